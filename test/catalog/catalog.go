// Package catalog embeds the example simulator catalog, so in-process tests and the standalone simulator of the
// demo and e2e suites describe the same cloud.
package catalog

import _ "embed"

// YAML is test/catalog/catalog.yaml.
//
//go:embed catalog.yaml
var YAML []byte
