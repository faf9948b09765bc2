package options

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate checks every setting and reports all problems at once, each naming its flag and environment variable
// and what to do about it, so that a misconfigured deployment is fixed in one round trip.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch u, err := url.Parse(o.APIURL); {
	case o.APIURL == "":
		add("--cloudstack-api-url (CLOUDSTACK_API_URL) is required, or file %s in --cloudstack-credentials-dir: "+
			"set it to the management server's API endpoint, e.g. https://cloudstack.example.com/client/api", CredentialsFileAPIURL)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		add("--cloudstack-api-url (CLOUDSTACK_API_URL) %q is not an http(s) URL with a host; "+
			"use the management server's API endpoint, e.g. https://cloudstack.example.com/client/api", o.APIURL)
	}
	if o.APIKey == "" {
		add("--cloudstack-api-key (CLOUDSTACK_API_KEY) is required, or file %s in --cloudstack-credentials-dir: "+
			"generate keys for the account under Accounts > Users > Generate keys", CredentialsFileAPIKey)
	}
	if o.SecretKey == "" {
		add("--cloudstack-secret-key (CLOUDSTACK_SECRET_KEY) is required, or file %s in --cloudstack-credentials-dir: "+
			"it is generated together with the API key", CredentialsFileSecretKey)
	}
	if o.Project != strings.TrimSpace(o.Project) {
		add("--cloudstack-project (CLOUDSTACK_PROJECT) %q has leading or trailing blanks; set it to the project's name or ID exactly", o.Project)
	}
	if o.ClusterName == "" {
		add("--cluster-name (CLUSTER_NAME) is required: it marks the VMs this cluster owns")
	} else if msgs := validation.IsDNS1123Label(o.ClusterName); len(msgs) > 0 {
		add("--cluster-name (CLUSTER_NAME) %q is invalid: %s; it goes into VM tags and the VM group, so use a DNS label such as \"prod-eu1\"",
			o.ClusterName, strings.Join(msgs, "; "))
	}
	if o.CABundlePath != "" && len(o.CABundle) > 0 && !x509.NewCertPool().AppendCertsFromPEM(o.CABundle) {
		add("--cloudstack-ca-bundle (CLOUDSTACK_CA_BUNDLE) %q holds no PEM certificate; point it at a file of -----BEGIN CERTIFICATE----- blocks", o.CABundlePath)
	}
	if math.IsNaN(o.APIQPS) || math.IsInf(o.APIQPS, 0) || o.APIQPS <= 0 {
		add("--cloudstack-api-qps (CLOUDSTACK_API_QPS) must be a positive number, got %v", o.APIQPS)
	}
	if o.APIBurst < 1 {
		add("--cloudstack-api-burst (CLOUDSTACK_API_BURST) must be at least 1, got %d", o.APIBurst)
	}
	durations := append([]ttl{{p: &o.HTTPTimeout, flag: "cloudstack-http-timeout", env: "CLOUDSTACK_HTTP_TIMEOUT"}}, o.ttls()...)
	for _, d := range durations {
		if *d.p <= 0 {
			add("--%s (%s) must be a positive duration such as 30s or 5m, got %s", d.flag, d.env, *d.p)
		}
	}
	if o.ListPageSize < 1 {
		add("--cloudstack-list-page-size (CLOUDSTACK_LIST_PAGE_SIZE) must be at least 1, got %d; use the management server's default.page.size (500 unless changed)", o.ListPageSize)
	}
	if o.GCGracePeriod < 0 {
		add("--gc-grace-period (GC_GRACE_PERIOD) must not be negative, got %s", o.GCGracePeriod)
	}
	if o.UserDataMaxLength < 1 || o.UserDataMaxLength > MaxUserDataLength {
		add("--userdata-max-length (USERDATA_MAX_LENGTH) must be between 1 and %d (CloudStack's ceiling for vm.userdata.max.length), got %d",
			MaxUserDataLength, o.UserDataMaxLength)
	}
	if math.IsNaN(o.VMMemoryOverheadPercent) || o.VMMemoryOverheadPercent < 0 || o.VMMemoryOverheadPercent >= 100 {
		add("--vm-memory-overhead-percent (VM_MEMORY_OVERHEAD_PERCENT) must be at least 0 and below 100, got %v", o.VMMemoryOverheadPercent)
	}
	names := make([]string, 0, len(o.OfferingPrices))
	for n := range o.OfferingPrices {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p := o.OfferingPrices[n]; math.IsNaN(p) || math.IsInf(p, 0) || p < 0 {
			add("--offering-prices (OFFERING_PRICES): price of %q must be a non-negative number, got %v", n, p)
		}
	}
	return errors.Join(errs...)
}

// Warnings are valid but risky settings, for the operator to log at start-up.
func (o *Options) Warnings() []string {
	var out []string
	if u, err := url.Parse(o.APIURL); err == nil && u.Scheme == "http" {
		out = append(out, fmt.Sprintf("--cloudstack-api-url %q is plain http: the API key and signed requests travel unencrypted; use https", o.APIURL))
	}
	if !o.VerifySSL {
		out = append(out, "--cloudstack-verify-ssl is false: the management server's certificate is not checked; prefer --cloudstack-ca-bundle")
	}
	if !o.VerifySSL && o.CABundlePath != "" {
		out = append(out, "--cloudstack-ca-bundle is ignored because --cloudstack-verify-ssl is false")
	}
	return out
}
