package sshkeypair

import (
	"context"
	"fmt"
	"sync"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	gocache "github.com/patrickmn/go-cache"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

const cacheKey = "sshkeypairs"

// Provider resolves SSH key pairs.
type Provider interface {
	// Get returns the name of the key pair with exactly this name and whether it exists.
	Get(ctx context.Context, name string) (string, bool, error)
}

// DefaultProvider implements Provider with one cached listSSHKeyPairs call.
type DefaultProvider struct {
	api   cloudstack.API
	cache *gocache.Cache
	// mu makes concurrent cold callers share one listing instead of each making it.
	mu sync.Mutex
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches the listing in cache (see cache.SSHKeyPairsTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{api: api, cache: cache}
}

// Get implements Provider. Names are compared exactly: CloudStack's own name filter has differed across releases.
func (p *DefaultProvider) Get(ctx context.Context, name string) (string, bool, error) {
	keyPairs, err := p.list(ctx)
	if err != nil {
		return "", false, err
	}
	for _, k := range keyPairs {
		if k.Name == name {
			return k.Name, true, nil
		}
	}
	return "", false, nil
}

func (p *DefaultProvider) list(ctx context.Context) ([]*csgo.SSHKeyPair, error) {
	return cache.GetOrLoad(p.cache, &p.mu, cacheKey, func() ([]*csgo.SSHKeyPair, error) {
		keyPairs, err := p.api.ListSSHKeyPairs(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing SSH key pairs, %w", err)
		}
		return keyPairs, nil
	})
}
