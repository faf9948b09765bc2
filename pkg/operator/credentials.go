package operator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
)

// credentialsPollInterval is how often the mounted credentials Secret is re-read. The kubelet refreshes Secret
// volumes within about a minute of a change, so a rotated key applies within roughly a minute and a half.
const credentialsPollInterval = 30 * time.Second

// credentialSetter is the part of the CloudStack client a key rotation needs.
type credentialSetter interface {
	SetCredentials(apiKey, secretKey string) error
}

// credentialsReloader re-reads the API key and secret key from the mounted credentials Secret and hands changed
// keys to the client, so rotating the key in the Secret needs no restart. It runs on every replica (not only the
// leader): a replica waiting for the lease still answers readiness with the client's keys.
type credentialsReloader struct {
	dir               string
	client            credentialSetter
	interval          time.Duration
	apiKey, secretKey string // the keys the client signs with
}

// newCredentialsReloader returns nil when there is nothing to reload: no credentials dir, or keys that flags or
// environment variables set (they win over the files, at start and afterwards).
func newCredentialsReloader(opts *options.Options, client credentialSetter) *credentialsReloader {
	if opts.CredentialsDir == "" {
		return nil
	}
	r := &credentialsReloader{dir: opts.CredentialsDir, client: client, interval: credentialsPollInterval}
	key, secret, err := r.read()
	if err != nil || key != opts.APIKey || secret != opts.SecretKey {
		return nil
	}
	r.apiKey, r.secretKey = key, secret
	return r
}

func (r *credentialsReloader) read() (string, string, error) {
	var vals [2]string
	for i, name := range []string{options.CredentialsFileAPIKey, options.CredentialsFileSecretKey} {
		b, err := os.ReadFile(filepath.Join(r.dir, name))
		if err != nil {
			return "", "", fmt.Errorf("reading %s from the credentials dir %s, %w", name, r.dir, err)
		}
		// As at start: a trailing newline of a hand-written Secret is not part of the value.
		vals[i] = strings.TrimSpace(string(b))
	}
	if vals[0] == "" || vals[1] == "" {
		return "", "", errors.New("the credentials dir holds an empty api-key or secret-key")
	}
	return vals[0], vals[1], nil
}

// reload applies the files' keys when they changed; it never logs a key.
func (r *credentialsReloader) reload(ctx context.Context) {
	key, secret, err := r.read()
	if err != nil {
		log.FromContext(ctx).Error(err, "re-reading the CloudStack credentials; keeping the current keys")
		return
	}
	if key == r.apiKey && secret == r.secretKey {
		return
	}
	if err := r.client.SetCredentials(key, secret); err != nil {
		log.FromContext(ctx).Error(err, "applying the rotated CloudStack credentials; keeping the current keys")
		return
	}
	r.apiKey, r.secretKey = key, secret
	log.FromContext(ctx).Info("the CloudStack credentials changed in the mounted Secret; later requests use the new keys", "credentials-dir", r.dir)
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every replica keeps its keys current.
func (r *credentialsReloader) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable.
func (r *credentialsReloader) Start(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.reload(ctx)
		}
	}
}
