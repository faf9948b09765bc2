// Package environment runs the whole product on one machine, on loopback only, for the demo (test/cmd/demo) and
// the end-to-end suites (test/e2e): etcd and kube-apiserver (controller-runtime's envtest control plane), the
// kube-scheduler and kube-controller-manager binaries of hack/envtest-assets.sh, the CloudStack simulator binary
// (cmd/simulator) with a catalog, the node agent (test/pkg/nodeagent) playing kubelet for the simulated VMs, and
// the real controller binary (cmd/controller) configured as the Helm chart configures it: the same environment
// variables (ControllerEnv mirrors the chart's Deployment, and test/e2e checks the two agree), credentials read
// from files laid out like the chart's mounted Secret, and the CRDs from the chart's crds/ directory.
//
// Every child process gets SIGKILL when the process that started it dies, so an interrupted test or demo leaves
// nothing running; Stop tears everything down in order and removes the working directory.
package environment
