package fetch

import "strings"

// Environment is one of the API's environments (unico-api.md,
// "Environments"): where its processes and its token endpoint are.
type Environment struct {
	APIRoot  string // the path /processes/v1/{id} is appended
	TokenURL string // the service account's token endpoint
}

// Environments are the API's environments by name (--env).
var Environments = map[string]Environment{
	"production": {APIRoot: "https://api.id.unico.app", TokenURL: "https://identity.acesso.io/oauth2/token"},
	"sandbox":    {APIRoot: "https://api.id.uat.unico.app", TokenURL: "https://identityhomolog.acesso.io/oauth2/token"},
}

// EnvironmentOf names the environment whose API root apiRoot is:
// production, sandbox, or custom.
func EnvironmentOf(apiRoot string) string {
	root := strings.TrimRight(apiRoot, "/")
	for name, e := range Environments {
		if root == e.APIRoot {
			return name
		}
	}
	return "custom"
}
