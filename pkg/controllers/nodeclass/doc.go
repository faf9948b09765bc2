// Package nodeclass holds the CloudStackNodeClass controller. It resolves every CloudStack dependency of a
// NodeClass (zones, then networks and templates per zone, service offerings, userData, SSH key pair and affinity
// groups), writes what it resolved into status with one condition per dependency, from which operatorpkg derives
// Ready, keeps the drift hash annotations current, and holds the termination finalizer while NodeClaims still use
// the NodeClass. Each dependency lives in its own file; controller.go only sequences them and patches once.
package nodeclass
