// Package providers groups the providers that resolve NodeClass dependencies in CloudStack (zone, network,
// template, affinitygroup, sshkeypair, instancetype, instance) and the selector-term matching they share. The package
// itself holds only the providers' shared test suite, which runs them against the in-process simulator.
package providers
