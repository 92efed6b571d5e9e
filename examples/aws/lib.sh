# lib.sh: shared by the harender-aws scripts (sourced, not run).
# Settings come from /etc/harender-aws/node.env (written by user data);
# HARENDER_AWS_ENV names another file (the tests do). IMDS is the instance
# metadata service, spoken to with IMDSv2 session tokens only.

HARENDER_AWS_ENV=${HARENDER_AWS_ENV:-/etc/harender-aws/node.env}
# shellcheck disable=SC1090
[ -r "$HARENDER_AWS_ENV" ] && . "$HARENDER_AWS_ENV"
IMDS=${IMDS:-http://169.254.169.254}

log() { logger -t harender-aws -- "$*" 2>/dev/null || true; echo "harender-aws: $*" >&2; }

# imds_token: a session token (IMDSv2), 6 hours.
imds_token() {
  curl -sf --max-time 2 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" "$IMDS/latest/api/token"
}

# imds PATH [TOKEN]: GET a metadata path under /latest/; fails on 404.
imds() {
  local token=${2:-}
  [ -n "$token" ] || token=$(imds_token) || return 1
  curl -sf --max-time 2 -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/$1"
}

# retry N CMD...: run CMD up to N times, 1 s, 2 s, 4 s ... apart.
retry() {
  local n=$1 i=1 wait=${RETRY_WAIT:-1}
  shift
  until "$@"; do
    [ "$i" -ge "$n" ] && { log "gave up after $n tries: $*"; return 1; }
    log "try $i of $n failed: $*"
    sleep "$wait"
    i=$((i + 1)); wait=$((wait * 2))
  done
}
