package testenv

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"testing"

	"github.com/hashicorp/consul/api"
)

// StartConsulACL starts a dev agent, as StartConsul does, with ACLs on
// and every request without a token denied. Its Client carries the
// returned management token; the agent uses it for its own node too.
func StartConsulACL(t testing.TB) (c *Consul, management string) {
	t.Helper()
	c = NewConsul(t)
	management = NewUUID(t)
	c.args = append(c.args, "-hcl", fmt.Sprintf(
		`acl { enabled = true default_policy = "deny" tokens { initial_management = %q agent = %q } }`,
		management, management))
	tr := &http.Transport{}
	cl, err := api.NewClient(&api.Config{Address: c.Addr, Token: management, HttpClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	c.Client = cl
	t.Cleanup(tr.CloseIdleConnections)
	c.Start(t)
	return c, management
}

// ReadOnlyRules is an ACL policy that reads what templates read: services,
// nodes and keys.
const ReadOnlyRules = `
service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }
key_prefix "" { policy = "read" }
`

// CreateToken makes a token with a new policy of rules and returns its
// secret (what a client sends) and accessor (what deletes it).
func (c *Consul) CreateToken(t testing.TB, rules string) (secret, accessor string) {
	t.Helper()
	p, _, err := c.Client.ACL().PolicyCreate(&api.ACLPolicy{Name: "p-" + NewUUID(t), Rules: rules}, nil)
	if err != nil {
		t.Fatalf("create ACL policy: %v", err)
	}
	tok, _, err := c.Client.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
	if err != nil {
		t.Fatalf("create ACL token: %v", err)
	}
	return tok.SecretID, tok.AccessorID
}

// DeleteToken revokes the token with accessor ID accessor.
func (c *Consul) DeleteToken(t testing.TB, accessor string) {
	t.Helper()
	if _, err := c.Client.ACL().TokenDelete(accessor, nil); err != nil {
		t.Fatalf("delete ACL token: %v", err)
	}
}

// NewUUID is a random UUID, the form of Consul's token secrets.
func NewUUID(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
