// Package nodeagent plays the kubelet (and the cloud-controller-manager's node part) for the simulated VMs of the
// demo and the end-to-end tests. For every Running VM of the cluster it reads the VM's rendered userData the way a
// booting node would, registers a Node with the providerID, labels and taints the bootstrap contract gives it,
// keeps the Node's Lease fresh, runs the pods bound to it, and deletes the Node once the VM is gone.
//
// The userData contract (docs/bootstrap.md, examples/): the rendered userData (gzip'ed or not) carries the kubelet
// flags a real node would pass, `--node-labels=k=v,...`, `--register-with-taints=k=v:Effect,...` and optionally
// `--max-pods`, `--kube-reserved`, `--system-reserved` and `--eviction-hard`, anywhere in the text (for example in
// the KUBELET_EXTRA_ARGS line that `{{ .KubeletArgs }}` renders). The Node's name is the VM's name (the NodeClaim's
// name) and its providerID is `cloudstack:///<vm-uuid>`, which a real node reads from the metadata service.
package nodeagent
