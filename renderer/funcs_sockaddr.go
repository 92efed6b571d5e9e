package renderer

import (
	"fmt"
	"strings"
	"text/template"

	socktmpl "github.com/hashicorp/go-sockaddr/template"
)

// fnSockaddr is consul-template's sockaddr: its arguments, joined with
// spaces, are a go-sockaddr template expression evaluated against this
// host's interfaces, e.g.
//
//	{{ sockaddr "GetPrivateInterfaces | include \"type\" \"IPv4\" | attr \"address\"" }}
//
// The functions of go-sockaddr that look at the default route run `ip
// route`, which is why it is one of the execFuncs.
func fnSockaddr(args ...string) (string, error) {
	return socktmpl.Parse(sockaddrTemplate(args))
}

// checkSockaddr is sockaddr under NoExec: it parses the expression, so that
// check reports a misspelt go-sockaddr function, but reads no interface and
// runs nothing. It gives "", as a function whose data has not arrived does.
func checkSockaddr(args ...string) (string, error) {
	in := sockaddrTemplate(args)
	_, err := template.New("sockaddr.Parse").
		Funcs(socktmpl.SourceFuncs).
		Funcs(socktmpl.SortFuncs).
		Funcs(socktmpl.FilterFuncs).
		Funcs(socktmpl.HelperFuncs).
		Parse(in)
	if err != nil {
		// go-sockaddr's own wording for a parse error.
		return "", fmt.Errorf("unable to parse template %+q: %w", in, err)
	}
	return "", nil
}

func sockaddrTemplate(args []string) string {
	return "{{ " + strings.Join(args, " ") + " }}"
}
