// Package nodeagent plays the kubelet (and the cloud-controller-manager's node part) for the simulated VMs of the
// demo and the end-to-end tests. For every Running VM of the cluster it reads the VM's rendered userData the way a
// booting node would, registers a Node with the providerID, labels and taints the bootstrap contract gives it,
// keeps the Node's Lease fresh, runs the pods bound to it, and deletes the Node once the VM is gone.
//
// The userData contract (docs/bootstrap.md, examples/): the kubelet a node of the VM's image family would start gets
// the flags of the bootstrap contract, `--node-labels=k=v,...`, `--register-with-taints=k=v:Effect,...` and optionally
// `--max-pods`, `--kube-reserved`, `--system-reserved`, `--eviction-hard` and `--provider-id`. For #cloud-config the
// agent lays write_files over the kubelet package's files and evaluates the kubelet unit's systemd drop-ins as a
// Debian-family (/etc/default/kubelet) or RHEL-family (/etc/sysconfig/kubelet) image would, the family taken from the
// template's OS type (kubeletunit.go); a shell script is taken to start the kubelet with the flags it contains. The
// Node's name is the VM's name (the NodeClaim's name) and its providerID is `cloudstack:///<vm-uuid>`, which a real
// node reads from the metadata service.
package nodeagent
