package config

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Sections are the parts of the configuration file that are lists of records
// rather than single settings: the scopes of the operator's API, the APIs
// (resource servers) themselves, and the gateway's route rules. They are read
// from the file only, and decoded strictly. What a record means, and whether
// it is valid beyond its shape, is decided by the package that owns it
// (scope catalog, resource servers, gateway).
type Sections struct {
	// Scopes the operator's API defines, in display order.
	Scopes []ScopeSpec `yaml:"scopes"`
	// APIs are the operator's resource servers.
	APIs []APISpec `yaml:"apis"`
	// Routes are the gateway check's rules, first match wins.
	Routes []RouteSpec `yaml:"gateway_routes"`
}

// ScopeSpec declares one scope of the operator's API.
type ScopeSpec struct {
	Name string `yaml:"name"`
	// Description completes "<App> wants to …" on the consent page.
	Description string `yaml:"description"`
	// Group heads the scope's section on the consent page ("Cards").
	Group string `yaml:"group"`
	// Carriers says which credentials may carry the scope: "delegated" (an
	// app acting for a user who consented), "pat", "app" (an app-level
	// credential: client_credentials token or API key). Empty: all three.
	Carriers []string `yaml:"carriers"`
	// Sensitive scopes need an app to be reviewed before it may request
	// them, and are shown prominently on the consent page.
	Sensitive bool `yaml:"sensitive"`
}

// APISpec declares one resource server (RFC 8707 resource indicator).
type APISpec struct {
	// Identifier is the absolute URI clients name in `resource`, and the
	// audience of tokens meant for this API.
	Identifier string `yaml:"identifier"`
	Name       string `yaml:"name"`
	// Scopes lists the scopes that belong to this API.
	Scopes []string `yaml:"scopes"`
	// TokenFormat is the format of access tokens meant for this API: opaque
	// or jwt (RFC 9068); empty: the access_token_format setting.
	TokenFormat string `yaml:"token_format"`
}

// RouteSpec is one gateway rule: requests matching Method and Path need a
// credential carrying every scope in Scopes, or nothing when Public.
type RouteSpec struct {
	// Method is an HTTP method, or "" / "*" for any.
	Method string `yaml:"method"`
	// Path is a ServeMux-style pattern ("/v0/me/cards", "/v0/cards/{id}",
	// "/static/{rest...}").
	Path   string   `yaml:"path"`
	Scopes []string `yaml:"scopes"`
	Public bool     `yaml:"public"`
	// API names the resource server (APISpec.Identifier) the route belongs
	// to; "" when there is only one or none.
	API string `yaml:"api"`
}

// sectionKeys are the top-level file keys that hold sections.
var sectionKeys = map[string]bool{"scopes": true, "apis": true, "gateway_routes": true}

func decodeSections(data []byte, raw map[string]any) (Sections, error) {
	var secs Sections
	present := false
	for k := range sectionKeys {
		if _, ok := raw[k]; ok {
			present = true
		}
	}
	if !present {
		return secs, nil
	}
	// Decode the whole document into a struct holding only the sections,
	// refusing unknown fields inside records. Top-level single settings are
	// captured by the inline map so they are not "unknown" here.
	var doc struct {
		Sections `yaml:",inline"`
		Rest     map[string]any `yaml:",inline"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return secs, fmt.Errorf("sections: %w", err)
	}
	return doc.Sections, nil
}
