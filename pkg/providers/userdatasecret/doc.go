// Package userdatasecret reads the Secret a CloudStackNodeClass's spec.userDataSecretRef names, whose data userData
// templates see as .Secret. It reads straight from the API server, never through an informer: the controller may
// only get the Secrets the chart grants it by name (list and watch would need every Secret of the namespace), and
// join credentials are not kept in memory longer than one rendering.
package userdatasecret
