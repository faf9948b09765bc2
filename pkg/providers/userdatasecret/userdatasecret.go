package userdatasecret

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// Provider reads the values a NodeClass's userData template may use as .Secret.
type Provider interface {
	// Get returns the data of the Secret spec.userDataSecretRef names, one string per key, or nil when the NodeClass
	// references none. A Secret that is missing or that the controller may not read is an *Error; any other
	// failure is the API server's and worth retrying.
	Get(ctx context.Context, nodeClass *v1.CloudStackNodeClass) (map[string]string, error)
}

// Reasons of an Error; they are also the NodeClass's UserDataReady reasons.
const (
	// ReasonNotFound is a reference to a Secret that does not exist.
	ReasonNotFound = "UserDataSecretNotFound"
	// ReasonForbidden is a reference to a Secret the controller's RBAC does not let it read.
	ReasonForbidden = "UserDataSecretForbidden"
)

// Error is a Secret reference the controller cannot resolve until the user changes something: the message names
// the field and the fix, and never a value of the Secret.
type Error struct {
	Reason string
	Ref    v1.SecretReference
	Err    error
}

func (e *Error) Error() string {
	switch e.Reason {
	case ReasonNotFound:
		return fmt.Sprintf("spec.userDataSecretRef: Secret %s/%s does not exist; create it (kubectl create secret generic %s -n %s --from-literal=<key>=<value>) or fix the reference",
			e.Ref.Namespace, e.Ref.Name, e.Ref.Name, e.Ref.Namespace)
	default:
		return fmt.Sprintf("spec.userDataSecretRef: the controller may not read Secret %s/%s; add {namespace: %s, name: %s} to the chart's userDataSecrets value, which grants get on exactly those Secrets",
			e.Ref.Namespace, e.Ref.Name, e.Ref.Namespace, e.Ref.Name)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// DefaultProvider reads Secrets with a reader that goes to the API server (the manager's APIReader).
type DefaultProvider struct {
	reader client.Reader
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider reading through reader. Give it an uncached reader: a cached client would
// start an informer on every Secret of the cluster, which the chart's RBAC refuses.
func NewDefaultProvider(reader client.Reader) *DefaultProvider {
	return &DefaultProvider{reader: reader}
}

// Get implements Provider.
func (p *DefaultProvider) Get(ctx context.Context, nodeClass *v1.CloudStackNodeClass) (map[string]string, error) {
	ref := nodeClass.Spec.UserDataSecretRef
	if ref == nil {
		return nil, nil
	}
	secret := &corev1.Secret{}
	err := p.reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, secret)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &Error{Reason: ReasonNotFound, Ref: *ref, Err: err}
	case apierrors.IsForbidden(err):
		return nil, &Error{Reason: ReasonForbidden, Ref: *ref, Err: err}
	case err != nil:
		return nil, fmt.Errorf("reading spec.userDataSecretRef %s/%s, %w", ref.Namespace, ref.Name, err)
	}
	values := make(map[string]string, len(secret.Data))
	for k, v := range secret.Data {
		values[k] = string(v)
	}
	return values, nil
}
