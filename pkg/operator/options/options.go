package options

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
)

func init() {
	coreoptions.Injectables = append(coreoptions.Injectables, &Options{})
}

// Names of the files a mounted credentials Secret provides in --cloudstack-credentials-dir.
const (
	CredentialsFileAPIURL    = "api-url"
	CredentialsFileAPIKey    = "api-key"
	CredentialsFileSecretKey = "secret-key"
	CredentialsFileVerifySSL = "verify-ssl"
)

// Defaults of the settings whose defaults do not live elsewhere. The others are written once where they belong and
// only referenced here: the client's rate limit and timeout in pkg/cloudstack, every cache TTL in pkg/cache, the
// userData limit in pkg/bootstrap and the VM memory overhead in pkg/providers/instancetype.
const (
	DefaultGCGracePeriod = 2 * time.Minute
	// MaxUserDataLength is the most CloudStack's vm.userdata.max.length can be raised to.
	MaxUserDataLength = 1048576
)

type optionsKey struct{}

// Options is the provider's configuration. It implements Karpenter core's options.Injectable.
type Options struct {
	// APIURL is the management server's API endpoint, e.g. https://cloudstack.example.com/client/api.
	APIURL string
	// APIKey and SecretKey are the credentials of the account VMs are launched in. Fields tagged secret are
	// redacted by every printer of Options (printer.go).
	APIKey    string `secret:"true"`
	SecretKey string `secret:"true"`
	// CredentialsDir is the directory of a mounted Secret with files api-url, api-key, secret-key and verify-ssl.
	CredentialsDir string
	// VerifySSL checks the management server's TLS certificate; true unless explicitly disabled.
	VerifySSL bool
	// CABundlePath is a PEM file of CAs to trust for the management server; CABundle is its content.
	CABundlePath string
	CABundle     []byte `print:"-"` // printed as CABundlePath
	// Project is the name or ID of the CloudStack project the controller works in: VMs are launched in it, and only
	// its VMs are listed and garbage-collected. Empty = the API key's own account. One per controller, never per
	// NodeClass: ownership, core's List and the garbage collector need one listing scope.
	Project string
	// ClusterName names this cluster in VM tags and the VM group. Other clusters may use the same name.
	ClusterName string
	// ClusterID is not a flag: the operator sets it at startup to the UID of the kube-system namespace, which, with
	// the account scope, proves which VMs are this cluster's (see instance.Owner).
	ClusterID string
	// APIQPS and APIBurst bound the client-side request rate to the management server.
	APIQPS   float64
	APIBurst int
	// HTTPTimeout bounds one HTTP request to the management server.
	HTTPTimeout time.Duration
	// ListPageSize is the pagesize of list calls; a server whose default.page.size is lower refuses it, and the
	// client then continues with the server's limit.
	ListPageSize int
	// Cache TTL overrides; the defaults and the reasons for them are in pkg/cache.
	ZonesCacheTTL            time.Duration
	NetworksCacheTTL         time.Duration
	TemplatesCacheTTL        time.Duration
	ServiceOfferingsCacheTTL time.Duration
	InstanceTypesCacheTTL    time.Duration
	UnavailableOfferingsTTL  time.Duration
	// OfferingPrices maps an instance-type name, offering UUID or offering name to an hourly price.
	OfferingPrices map[string]float64
	// UserDataMaxLength is the management server's vm.userdata.max.length: the longest encoded userData accepted.
	UserDataMaxLength int
	// GCGracePeriod is how old an owned VM without a NodeClaim must be before the garbage collector destroys it.
	GCGracePeriod time.Duration
	// VMMemoryOverheadPercent is the share of an offering's memory a VM's guest does not see, left out of the
	// predicted memory capacity (docs/capacity.md).
	VMMemoryOverheadPercent float64

	offeringPricesRaw string
	parseErrs         []error
	// lookupEnv reads the environment; Defaults replaces it to see none.
	lookupEnv func(string) (string, bool)
}

// Defaults returns the options every flag defaults to, ignoring the environment: what a deployment that sets only
// the required settings runs with. ClusterID and the required settings (API URL, keys, cluster name) stay empty.
func Defaults() *Options {
	o := &Options{lookupEnv: func(string) (string, bool) { return "", false }}
	fs := flag.NewFlagSet("defaults", flag.ContinueOnError)
	o.AddFlags(&coreoptions.FlagSet{FlagSet: fs})
	o.OfferingPrices = nil
	return o
}

// ClientOptions are the settings of the CloudStack client; the client's other knobs keep pkg/cloudstack's defaults.
func (o *Options) ClientOptions() cloudstack.Options {
	return cloudstack.Options{
		APIURL:      o.APIURL,
		APIKey:      o.APIKey,
		SecretKey:   o.SecretKey,
		VerifySSL:   o.VerifySSL,
		CABundle:    o.CABundle,
		HTTPTimeout: o.HTTPTimeout,
		PageSize:    o.ListPageSize,
		Project:     o.Project,
		QPS:         o.APIQPS,
		Burst:       o.APIBurst,
	}
}

func (o *Options) getenv(name, def string) string {
	lookup := o.lookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if v, ok := lookup(name); ok {
		return v
	}
	return def
}

// AddFlags implements options.Injectable.
func (o *Options) AddFlags(fs *coreoptions.FlagSet) {
	o.parseErrs = nil
	o.register(fs, stringVar(&o.APIURL), "cloudstack-api-url", "CLOUDSTACK_API_URL", "",
		"CloudStack API endpoint, e.g. https://cloudstack.example.com/client/api")
	o.APIKey = o.getenv("CLOUDSTACK_API_KEY", "")
	fs.Var(&secretValue{p: &o.APIKey}, "cloudstack-api-key", "CloudStack API key [env CLOUDSTACK_API_KEY]")
	o.SecretKey = o.getenv("CLOUDSTACK_SECRET_KEY", "")
	fs.Var(&secretValue{p: &o.SecretKey}, "cloudstack-secret-key", "CloudStack secret key; prefer the env variable or the credentials dir, flags are visible in the process list [env CLOUDSTACK_SECRET_KEY]")
	o.register(fs, stringVar(&o.CredentialsDir), "cloudstack-credentials-dir", "CLOUDSTACK_CREDENTIALS_DIR", "",
		"Directory of a mounted Secret with files api-url, api-key, secret-key and verify-ssl; flags and env variables win over its files")
	o.register(fs, boolVar(&o.VerifySSL), "cloudstack-verify-ssl", "CLOUDSTACK_VERIFY_SSL", "true",
		"Verify the management server's TLS certificate")
	o.register(fs, stringVar(&o.CABundlePath), "cloudstack-ca-bundle", "CLOUDSTACK_CA_BUNDLE", "",
		"PEM file of CA certificates to trust for the management server")
	o.register(fs, stringVar(&o.Project), "cloudstack-project", "CLOUDSTACK_PROJECT", "",
		"Name or ID of the CloudStack project to launch nodes in (the API key's account must be a member); empty = the key's own account")
	o.register(fs, stringVar(&o.ClusterName), "cluster-name", "CLUSTER_NAME", "",
		"Name of this cluster, put in the tags and group of every VM to prove ownership (required)")
	o.register(fs, floatVar(&o.APIQPS), "cloudstack-api-qps", "CLOUDSTACK_API_QPS", strconv.FormatFloat(cloudstack.DefaultQPS, 'g', -1, 64),
		"Client-side limit of CloudStack API requests per second")
	o.register(fs, intVar(&o.APIBurst), "cloudstack-api-burst", "CLOUDSTACK_API_BURST", strconv.Itoa(cloudstack.DefaultBurst),
		"Client-side burst of CloudStack API requests")
	o.register(fs, durationVar(&o.HTTPTimeout), "cloudstack-http-timeout", "CLOUDSTACK_HTTP_TIMEOUT", cloudstack.DefaultHTTPTimeout.String(),
		"Timeout of one HTTP request to the management server")
	o.register(fs, intVar(&o.ListPageSize), "cloudstack-list-page-size", "CLOUDSTACK_LIST_PAGE_SIZE", strconv.Itoa(cloudstack.DefaultPageSize),
		"Page size of CloudStack list calls; at most the management server's default.page.size (a larger one is lowered to the server's limit on first refusal)")
	for _, t := range o.ttls() {
		o.register(fs, durationVar(t.p), t.flag, t.env, t.def.String(), t.usage)
	}
	o.register(fs, stringVar(&o.offeringPricesRaw), "offering-prices", "OFFERING_PRICES", "",
		`Hourly prices by instance-type name, offering UUID or offering name, as JSON ({"small":0.05}) or small=0.05,medium=0.1`)
	o.register(fs, intVar(&o.UserDataMaxLength), "userdata-max-length", "USERDATA_MAX_LENGTH", strconv.Itoa(bootstrap.DefaultMaxLength),
		"The management server's vm.userdata.max.length: the longest gzip+base64 userData it accepts")
	o.register(fs, durationVar(&o.GCGracePeriod), "gc-grace-period", "GC_GRACE_PERIOD", DefaultGCGracePeriod.String(),
		"Age an owned VM without a NodeClaim must reach before it is destroyed")
	o.register(fs, floatVar(&o.VMMemoryOverheadPercent), "vm-memory-overhead-percent", "VM_MEMORY_OVERHEAD_PERCENT",
		strconv.FormatFloat(instancetype.DefaultVMMemoryOverheadPercent, 'g', -1, 64),
		"Share of an offering's memory (in percent) the VM's guest does not see; left out of predicted memory capacity")
}

type ttl struct {
	p         *time.Duration
	flag, env string
	def       time.Duration
	usage     string
}

func (o *Options) ttls() []ttl {
	return []ttl{
		{&o.ZonesCacheTTL, "zones-cache-ttl", "ZONES_CACHE_TTL", cache.ZonesTTL, "How long the zone list is reused before it is listed again"},
		{&o.NetworksCacheTTL, "networks-cache-ttl", "NETWORKS_CACHE_TTL", cache.NetworksTTL, "How long network lists are reused"},
		{&o.TemplatesCacheTTL, "templates-cache-ttl", "TEMPLATES_CACHE_TTL", cache.TemplatesTTL, "How long template lists are reused"},
		{&o.ServiceOfferingsCacheTTL, "offerings-cache-ttl", "OFFERINGS_CACHE_TTL", cache.ServiceOfferingsTTL, "How long the service offering catalog is reused"},
		{&o.InstanceTypesCacheTTL, "instance-types-cache-ttl", "INSTANCE_TYPES_CACHE_TTL", cache.InstanceTypesTTL, "How long computed instance types are kept"},
		{&o.UnavailableOfferingsTTL, "unavailable-offerings-ttl", "UNAVAILABLE_OFFERINGS_TTL", cache.UnavailableOfferingsTTL,
			"How long an offering stays unavailable in a zone after a capacity error"},
	}
}

// Parse implements options.Injectable: it parses the flags, fills unset credentials from the credentials dir,
// loads the CA bundle and validates the result.
func (o *Options) Parse(fs *coreoptions.FlagSet, args ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		return fmt.Errorf("parsing flags, %w", err)
	}
	errs := append([]error{}, o.parseErrs...)
	if err := o.loadCredentialsDir(fs); err != nil {
		errs = append(errs, err)
	}
	prices, err := parsePrices(o.offeringPricesRaw)
	if err != nil {
		errs = append(errs, fmt.Errorf("--offering-prices (OFFERING_PRICES): %w", err))
	}
	o.OfferingPrices = prices
	o.CABundle = nil
	if o.CABundlePath != "" {
		if o.CABundle, err = os.ReadFile(o.CABundlePath); err != nil {
			errs = append(errs, fmt.Errorf("--cloudstack-ca-bundle (CLOUDSTACK_CA_BUNDLE): reading %q: %w", o.CABundlePath, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validating CloudStack provider options, %w", err)
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("validating CloudStack provider options, %w", err)
	}
	return nil
}

// loadCredentialsDir fills every credential that neither a flag nor an environment variable set.
func (o *Options) loadCredentialsDir(fs *coreoptions.FlagSet) error {
	if o.CredentialsDir == "" {
		return nil
	}
	if info, err := os.Stat(o.CredentialsDir); err != nil || !info.IsDir() {
		return fmt.Errorf("--cloudstack-credentials-dir (CLOUDSTACK_CREDENTIALS_DIR) %q is not a readable directory; mount the credentials Secret there or unset it", o.CredentialsDir)
	}
	var errs []error
	read := func(name string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(o.CredentialsDir, name))
		if errors.Is(err, os.ErrNotExist) {
			return "", false
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s from the credentials dir, %w", name, err))
			return "", false
		}
		// Secrets written by hand usually end with a newline that is not part of the value.
		return strings.TrimSpace(string(b)), true
	}
	for _, f := range []struct {
		file string
		p    *string
	}{{CredentialsFileAPIURL, &o.APIURL}, {CredentialsFileAPIKey, &o.APIKey}, {CredentialsFileSecretKey, &o.SecretKey}} {
		if *f.p != "" {
			continue
		}
		if v, ok := read(f.file); ok {
			*f.p = v
		}
	}
	if !explicitlySet(fs, "cloudstack-verify-ssl", "CLOUDSTACK_VERIFY_SSL") {
		if v, ok := read(CredentialsFileVerifySSL); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("file %s in the credentials dir holds %q; it must be true or false", CredentialsFileVerifySSL, v))
			} else {
				o.VerifySSL = b
			}
		}
	}
	return errors.Join(errs...)
}

func explicitlySet(fs *coreoptions.FlagSet, flagName, envName string) bool {
	if _, ok := os.LookupEnv(envName); ok {
		return true
	}
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == flagName })
	return set
}

// parsePrices reads a JSON object or comma-separated name=price pairs.
func parsePrices(raw string) (map[string]float64, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	prices := map[string]float64{}
	if strings.HasPrefix(raw, "{") {
		// The decoder's own message names Go types, which means nothing to whoever wrote the setting.
		if err := json.Unmarshal([]byte(raw), &prices); err != nil {
			return nil, fmt.Errorf("%s is not a JSON object of numbers such as {\"small\":0.05}", raw)
		}
		return prices, nil
	}
	for _, pair := range strings.Split(raw, ",") {
		name, price, ok := strings.Cut(strings.TrimSpace(pair), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not of the form name=price", pair)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(price), 64)
		if err != nil {
			return nil, fmt.Errorf("price of %q is not a number: %q", name, price)
		}
		prices[name] = p
	}
	return prices, nil
}

// ToContext implements options.Injectable. It stores a copy, so that a later Parse of the same registered
// Options (core re-parses for every manager context) cannot change what running reconcilers see.
func (o *Options) ToContext(ctx context.Context) context.Context {
	c := *o
	return ToContext(ctx, &c)
}

// ToContext returns ctx carrying opts.
func ToContext(ctx context.Context, opts *Options) context.Context {
	return context.WithValue(ctx, optionsKey{}, opts)
}

// FromContext returns the Options in ctx. It panics when there are none: that is a wiring bug, not a runtime state.
func FromContext(ctx context.Context) *Options {
	v := ctx.Value(optionsKey{})
	if v == nil {
		panic("CloudStack provider options are not in the context; register options.Injectables before NewOperator")
	}
	return v.(*Options)
}
