// Package network resolves the guest networks of a zone that VMs are attached to, from networkSelectorTerms, keeping
// only networks usable for deploys, in the order that makes the first network the default NIC.
package network
