#!/usr/bin/env python3
"""hastate.py MASTER_SOCK ADMIN_SOCK BACKEND: diagnostic dump used by
sidecar.sh when a runtime-API change is not seen: the master's process list,
and the server state of BACKEND as seen through the runtime socket and
through the master CLI for every worker."""
import re, socket, sys

def cmd(path, c):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    s.sendall((c + "\n").encode())
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        out += b
    s.close()
    return out.decode(errors="replace")

master, admin, be = sys.argv[1:4]
procs = cmd(master, "show proc")
print("  [diag] master show proc:\n" + "\n".join("    " + l for l in procs.splitlines()))
try:
    print("  [diag] admin.sock show servers conn %s:\n%s" % (be, "\n".join("    " + l for l in cmd(admin, "show servers conn " + be).strip().splitlines())))
except Exception as e:
    print("  [diag] show servers conn: %s" % e)
print("  [diag] admin.sock show servers state %s:\n    %s" % (be, cmd(admin, "show servers state " + be).strip().splitlines()[-1]))
for pid in re.findall(r"^(\d+)\s+worker", procs, re.M):
    try:
        st = cmd(master, "@!%s show servers state %s" % (pid, be)).strip().splitlines()
        print("  [diag] worker %s: %s" % (pid, st[-1] if st else "(none)"))
    except Exception as e:
        print("  [diag] worker %s: %s" % (pid, e))
