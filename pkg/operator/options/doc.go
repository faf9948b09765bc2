// Package options holds the CloudStack provider's start-up configuration: flags, each with an environment variable
// fallback, plus the files of a mounted credentials Secret. Options is a Karpenter core options.Injectable and
// registers itself from init(), so core parses it with its own flags and injects it into every reconcile context;
// read it there with FromContext.
//
// Precedence, highest first: a flag on the command line, its environment variable, the file of the same setting in
// --cloudstack-credentials-dir (api-url, api-key, secret-key, verify-ssl), then the built-in default. Files are read
// at start-up only: restart the controller after rotating the Secret.
//
// The API secret key never leaves this package in printable form: String, GoString, LogValue and MarshalLog
// redact it and the API key, and the flag's usage never shows its value.
package options
