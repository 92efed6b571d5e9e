package watch

import (
	"fmt"

	"github.com/hashicorp/consul/api"
)

// ClientConfig holds the Consul connection settings. Every field is
// optional: an empty field keeps what api.DefaultConfig read from the
// standard environment (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_SSL, CONSUL_HTTP_SSL_VERIFY,
// CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY,
// CONSUL_TLS_SERVER_NAME); a set field overrides it.
type ClientConfig struct {
	// Address is host:port, or a URL such as https://consul:8501 or
	// unix:///run/consul.sock.
	Address string
	// Token is the ACL token. It is sent only in the X-Consul-Token header,
	// never in a URL, so it does not show up in errors.
	Token string
	// TokenFile is read when the client is made and wins over Token.
	TokenFile string

	CAFile     string
	CAPath     string
	CertFile   string
	KeyFile    string
	ServerName string
	// SSL forces https even when Address has no scheme.
	SSL                bool
	InsecureSkipVerify bool

	// Datacenter, Namespace and Partition are defaults for every query that
	// does not name its own.
	Datacenter string
	Namespace  string
	Partition  string
}

// NewClient makes a Consul API client from the environment, overridden by
// c. Its error never contains the token.
func NewClient(c ClientConfig) (*api.Client, error) {
	cfg := api.DefaultConfig()
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Address, c.Address)
	set(&cfg.Token, c.Token)
	set(&cfg.TokenFile, c.TokenFile)
	set(&cfg.TLSConfig.CAFile, c.CAFile)
	set(&cfg.TLSConfig.CAPath, c.CAPath)
	set(&cfg.TLSConfig.CertFile, c.CertFile)
	set(&cfg.TLSConfig.KeyFile, c.KeyFile)
	set(&cfg.TLSConfig.Address, c.ServerName)
	set(&cfg.Datacenter, c.Datacenter)
	set(&cfg.Namespace, c.Namespace)
	set(&cfg.Partition, c.Partition)
	if c.SSL {
		cfg.Scheme = "https"
	}
	if c.InsecureSkipVerify {
		cfg.TLSConfig.InsecureSkipVerify = true
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		// api's errors name the token file, never its content; scrub the
		// token anyway in case a future version echoes it.
		return nil, fmt.Errorf("make consul client: %w", redact(err, cfg.Token))
	}
	return client, nil
}
