package options_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
)

const (
	testURL    = "https://cloudstack.example.com/client/api"
	testKey    = "AKEY-from-flag"
	testSecret = "s3cr3t-value-never-printed"
)

// envNames are every variable the package reads; each test starts with all of them unset.
var envNames = []string{
	"CLOUDSTACK_API_URL", "CLOUDSTACK_API_KEY", "CLOUDSTACK_SECRET_KEY", "CLOUDSTACK_CREDENTIALS_DIR",
	"CLOUDSTACK_VERIFY_SSL", "CLOUDSTACK_CA_BUNDLE", "CLUSTER_NAME", "CLOUDSTACK_API_QPS", "CLOUDSTACK_API_BURST",
	"CLOUDSTACK_HTTP_TIMEOUT", "OFFERINGS_CACHE_TTL", "INSTANCE_TYPES_CACHE_TTL", "OFFERING_PRICES",
	"ZONES_CACHE_TTL", "NETWORKS_CACHE_TTL", "TEMPLATES_CACHE_TTL", "UNAVAILABLE_OFFERINGS_TTL",
	"USERDATA_MAX_LENGTH", "GC_GRACE_PERIOD",
}

func setEnv(key, value string) {
	old, had := os.LookupEnv(key)
	Expect(os.Setenv(key, value)).To(Succeed())
	DeferCleanup(func() {
		if had {
			_ = os.Setenv(key, old)
		} else {
			_ = os.Unsetenv(key)
		}
	})
}

func unsetEnv(key string) {
	if old, had := os.LookupEnv(key); had {
		Expect(os.Unsetenv(key)).To(Succeed())
		DeferCleanup(func() { _ = os.Setenv(key, old) })
	}
}

var required = []string{"--cloudstack-api-url=" + testURL, "--cloudstack-api-key=" + testKey,
	"--cloudstack-secret-key=" + testSecret, "--cluster-name=prod"}

// input is one row of the table: flags, environment and credential files ("$DIR" stands for the directory the
// files are written to; "$CA" for a valid PEM bundle, "$BADCA" for a file that is not PEM).
type input struct {
	args  []string
	env   map[string]string
	files map[string]string
}

// lastExpand resolves the placeholders of the last parse, for expected messages that name temporary paths.
var lastExpand func(string) string

func newFlagSet() *coreoptions.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &coreoptions.FlagSet{FlagSet: fs}
}

func parse(in input) (*options.Options, error) {
	dir := GinkgoT().TempDir()
	for name, content := range in.files {
		Expect(os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)).To(Succeed())
	}
	ca := filepath.Join(GinkgoT().TempDir(), "ca.pem")
	Expect(os.WriteFile(ca, selfSignedPEM(), 0o600)).To(Succeed())
	badCA := filepath.Join(GinkgoT().TempDir(), "bad.pem")
	Expect(os.WriteFile(badCA, []byte("not a certificate"), 0o600)).To(Succeed())
	expand := func(s string) string {
		return strings.NewReplacer("$DIR", dir, "$BADCA", badCA, "$CA", ca).Replace(s)
	}
	lastExpand = expand
	for k, v := range in.env {
		setEnv(k, expand(v))
	}
	args := make([]string, 0, len(in.args))
	for _, a := range in.args {
		args = append(args, expand(a))
	}
	o := &options.Options{}
	fs := newFlagSet()
	o.AddFlags(fs)
	return o, o.Parse(fs, args...)
}

func selfSignedPEM() []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).ToNot(HaveOccurred())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).ToNot(HaveOccurred())
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func with(extra ...string) []string { return append(append([]string{}, required...), extra...) }

const prefix = "validating CloudStack provider options, "

var _ = Describe("Options", func() {
	BeforeEach(func() {
		for _, k := range envNames {
			unsetEnv(k)
		}
	})

	It("is registered with Karpenter core", func() {
		Expect(coreoptions.Injectables).To(ContainElement(BeAssignableToTypeOf(&options.Options{})))
	})

	DescribeTable("valid inputs",
		func(in input, check func(*options.Options)) {
			o, err := parse(in)
			Expect(err).ToNot(HaveOccurred())
			check(o)
		},
		Entry("defaults", input{args: required}, func(o *options.Options) {
			Expect(o.APIURL).To(Equal(testURL))
			Expect(o.APIKey).To(Equal(testKey))
			Expect(o.SecretKey).To(Equal(testSecret))
			Expect(o.ClusterName).To(Equal("prod"))
			Expect(o.VerifySSL).To(BeTrue())
			Expect(o.CABundle).To(BeNil())
			Expect(o.APIQPS).To(Equal(20.0))
			Expect(o.APIBurst).To(Equal(40))
			Expect(o.HTTPTimeout).To(Equal(30 * time.Second))
			Expect(o.ZonesCacheTTL).To(Equal(cache.ZonesTTL))
			Expect(o.NetworksCacheTTL).To(Equal(cache.NetworksTTL))
			Expect(o.TemplatesCacheTTL).To(Equal(cache.TemplatesTTL))
			Expect(o.ServiceOfferingsCacheTTL).To(Equal(cache.ServiceOfferingsTTL))
			Expect(o.InstanceTypesCacheTTL).To(Equal(cache.InstanceTypesTTL))
			Expect(o.UnavailableOfferingsTTL).To(Equal(cache.UnavailableOfferingsTTL))
			Expect(o.OfferingPrices).To(BeNil())
			Expect(o.UserDataMaxLength).To(Equal(32768))
			Expect(o.ListPageSize).To(Equal(500))
			Expect(o.Project).To(BeEmpty())
			Expect(o.GCGracePeriod).To(Equal(2 * time.Minute))
			Expect(o.Warnings()).To(BeEmpty())
		}),
		Entry("everything from the environment", input{env: map[string]string{
			"CLOUDSTACK_API_URL": "https://env.example.com/client/api", "CLOUDSTACK_API_KEY": "env-key",
			"CLOUDSTACK_SECRET_KEY": "env-secret", "CLUSTER_NAME": "env-cluster", "CLOUDSTACK_VERIFY_SSL": "false",
			"CLOUDSTACK_API_QPS": "2.5", "CLOUDSTACK_API_BURST": "5", "CLOUDSTACK_HTTP_TIMEOUT": "10s",
			"OFFERINGS_CACHE_TTL": "1m", "INSTANCE_TYPES_CACHE_TTL": "2m", "ZONES_CACHE_TTL": "3m",
			"NETWORKS_CACHE_TTL": "4s", "TEMPLATES_CACHE_TTL": "5s", "UNAVAILABLE_OFFERINGS_TTL": "6s", "OFFERING_PRICES": `{"small":0.05}`,
			"USERDATA_MAX_LENGTH": "65536", "GC_GRACE_PERIOD": "30s", "CLOUDSTACK_CA_BUNDLE": "$CA",
			"CLOUDSTACK_LIST_PAGE_SIZE": "100", "CLOUDSTACK_PROJECT": "platform",
		}}, func(o *options.Options) {
			Expect(o.APIURL).To(Equal("https://env.example.com/client/api"))
			Expect(o.APIKey).To(Equal("env-key"))
			Expect(o.SecretKey).To(Equal("env-secret"))
			Expect(o.ClusterName).To(Equal("env-cluster"))
			Expect(o.VerifySSL).To(BeFalse())
			Expect(o.APIQPS).To(Equal(2.5))
			Expect(o.APIBurst).To(Equal(5))
			Expect(o.HTTPTimeout).To(Equal(10 * time.Second))
			Expect(o.ServiceOfferingsCacheTTL).To(Equal(time.Minute))
			Expect(o.InstanceTypesCacheTTL).To(Equal(2 * time.Minute))
			Expect(o.ZonesCacheTTL).To(Equal(3 * time.Minute))
			Expect(o.NetworksCacheTTL).To(Equal(4 * time.Second))
			Expect(o.TemplatesCacheTTL).To(Equal(5 * time.Second))
			Expect(o.UnavailableOfferingsTTL).To(Equal(6 * time.Second))
			Expect(o.OfferingPrices).To(Equal(map[string]float64{"small": 0.05}))
			Expect(o.UserDataMaxLength).To(Equal(65536))
			Expect(o.ListPageSize).To(Equal(100))
			Expect(o.Project).To(Equal("platform"))
			Expect(o.ClientOptions().Project).To(Equal("platform"))
			Expect(o.GCGracePeriod).To(Equal(30 * time.Second))
			Expect(string(o.CABundle)).To(HavePrefix("-----BEGIN CERTIFICATE-----"))
		}),
		Entry("flags win over the environment", input{
			args: with("--cloudstack-api-qps=7", "--cloudstack-verify-ssl=true", "--offering-prices=a=1,b = 2.5"),
			env:  map[string]string{"CLOUDSTACK_API_QPS": "3", "CLOUDSTACK_VERIFY_SSL": "false", "CLOUDSTACK_API_KEY": "env-key", "OFFERING_PRICES": "x=9"},
		}, func(o *options.Options) {
			Expect(o.APIQPS).To(Equal(7.0))
			Expect(o.VerifySSL).To(BeTrue())
			Expect(o.APIKey).To(Equal(testKey))
			Expect(o.OfferingPrices).To(Equal(map[string]float64{"a": 1, "b": 2.5}))
		}),
		Entry("credentials from files of a mounted Secret", input{
			args:  []string{"--cluster-name=prod"},
			env:   map[string]string{"CLOUDSTACK_CREDENTIALS_DIR": "$DIR"},
			files: map[string]string{"api-url": "https://file.example.com/client/api\n", "api-key": "file-key\n", "secret-key": " file-secret \n", "verify-ssl": "false\n"},
		}, func(o *options.Options) {
			Expect(o.APIURL).To(Equal("https://file.example.com/client/api"))
			Expect(o.APIKey).To(Equal("file-key"))
			Expect(o.SecretKey).To(Equal("file-secret"))
			Expect(o.VerifySSL).To(BeFalse())
		}),
		Entry("environment and flags win over files", input{
			args:  with("--cloudstack-credentials-dir=$DIR", "--cloudstack-verify-ssl"),
			env:   map[string]string{"CLOUDSTACK_SECRET_KEY": "ignored-because-the-flag-is-set"},
			files: map[string]string{"api-url": "https://file.example.com/client/api", "api-key": "file-key", "secret-key": "file-secret", "verify-ssl": "false"},
		}, func(o *options.Options) {
			Expect(o.APIURL).To(Equal(testURL))
			Expect(o.APIKey).To(Equal(testKey))
			Expect(o.SecretKey).To(Equal(testSecret))
			Expect(o.VerifySSL).To(BeTrue())
		}),
		Entry("an env verify-ssl wins over the file", input{
			args:  with("--cloudstack-credentials-dir=$DIR"),
			env:   map[string]string{"CLOUDSTACK_VERIFY_SSL": "true"},
			files: map[string]string{"verify-ssl": "false"},
		}, func(o *options.Options) { Expect(o.VerifySSL).To(BeTrue()) }),
		Entry("files fill only what is missing", input{
			args:  []string{"--cluster-name=prod", "--cloudstack-api-url=" + testURL, "--cloudstack-credentials-dir=$DIR"},
			files: map[string]string{"api-url": "https://file.example.com/client/api", "api-key": "file-key", "secret-key": "file-secret"},
		}, func(o *options.Options) {
			Expect(o.APIURL).To(Equal(testURL))
			Expect(o.APIKey).To(Equal("file-key"))
			Expect(o.VerifySSL).To(BeTrue(), "no verify-ssl file keeps the default")
		}),
		Entry("prices as JSON", input{args: with(`--offering-prices={"small": 0.05, "7c6f1b2e-0000-4000-8000-000000000001": 1.25}`)},
			func(o *options.Options) {
				Expect(o.OfferingPrices).To(Equal(map[string]float64{"small": 0.05, "7c6f1b2e-0000-4000-8000-000000000001": 1.25}))
			}),
		Entry("plain http and verify off are warned about", input{args: []string{"--cloudstack-api-url=http://10.0.0.1:8080/client/api",
			"--cloudstack-api-key=k", "--cloudstack-secret-key=s", "--cluster-name=lab", "--cloudstack-verify-ssl=false", "--cloudstack-ca-bundle=$CA"}},
			func(o *options.Options) {
				Expect(o.Warnings()).To(Equal([]string{
					`--cloudstack-api-url "http://10.0.0.1:8080/client/api" is plain http: the API key and signed requests travel unencrypted; use https`,
					"--cloudstack-verify-ssl is false: the management server's certificate is not checked; prefer --cloudstack-ca-bundle",
					"--cloudstack-ca-bundle is ignored because --cloudstack-verify-ssl is false",
				}))
			}),
	)

	DescribeTable("invalid inputs give the exact error",
		func(in input, want string) {
			_, err := parse(in)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(Equal(lastExpand(want)))
		},
		Entry("nothing set", input{}, prefix+
			"--cloudstack-api-url (CLOUDSTACK_API_URL) is required, or file api-url in --cloudstack-credentials-dir: set it to the management server's API endpoint, e.g. https://cloudstack.example.com/client/api\n"+
			"--cloudstack-api-key (CLOUDSTACK_API_KEY) is required, or file api-key in --cloudstack-credentials-dir: generate keys for the account under Accounts > Users > Generate keys\n"+
			"--cloudstack-secret-key (CLOUDSTACK_SECRET_KEY) is required, or file secret-key in --cloudstack-credentials-dir: it is generated together with the API key\n"+
			"--cluster-name (CLUSTER_NAME) is required: it marks the VMs this cluster owns"),
		Entry("URL without a scheme", input{args: with("--cloudstack-api-url=cloudstack.example.com/client/api")}, prefix+
			`--cloudstack-api-url (CLOUDSTACK_API_URL) "cloudstack.example.com/client/api" is not an http(s) URL with a host; use the management server's API endpoint, e.g. https://cloudstack.example.com/client/api`),
		Entry("URL with another scheme", input{args: with("--cloudstack-api-url=ftp://cloudstack.example.com/client/api")}, prefix+
			`--cloudstack-api-url (CLOUDSTACK_API_URL) "ftp://cloudstack.example.com/client/api" is not an http(s) URL with a host; use the management server's API endpoint, e.g. https://cloudstack.example.com/client/api`),
		Entry("cluster name that is no DNS label", input{args: with("--cluster-name=Prod_1")}, prefix+
			`--cluster-name (CLUSTER_NAME) "Prod_1" is invalid: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'); it goes into VM tags and the VM group, so use a DNS label such as "prod-eu1"`),
		Entry("an unparseable environment variable", input{args: required, env: map[string]string{"CLOUDSTACK_API_QPS": "fast"}}, prefix+
			`environment variable CLOUDSTACK_API_QPS="fast" is invalid (strconv.ParseFloat: parsing "fast": invalid syntax); fix or unset it`),
		Entry("an unparseable flag", input{args: with("--cloudstack-api-burst=many")},
			`parsing flags, invalid value "many" for flag -cloudstack-api-burst: strconv.Atoi: parsing "many": invalid syntax`),
		Entry("prices that are not pairs", input{args: with("--offering-prices=small:0.05")}, prefix+
			`--offering-prices (OFFERING_PRICES): "small:0.05" is not of the form name=price`),
		Entry("a price that is not a number", input{args: with("--offering-prices=small=cheap")}, prefix+
			`--offering-prices (OFFERING_PRICES): price of "small" is not a number: "cheap"`),
		Entry("JSON prices that are not numbers", input{args: with(`--offering-prices={"small":"cheap"}`)}, prefix+
			`--offering-prices (OFFERING_PRICES): {"small":"cheap"} is not a JSON object of numbers such as {"small":0.05}`),
		Entry("a negative price", input{args: with("--offering-prices=small=-1")}, prefix+
			`--offering-prices (OFFERING_PRICES): price of "small" must be a non-negative number, got -1`),
		Entry("a project with blanks around it", input{args: with("--cloudstack-project= platform")}, prefix+
			`--cloudstack-project (CLOUDSTACK_PROJECT) " platform" has leading or trailing blanks; set it to the project's name or ID exactly`),
		Entry("a list page size of zero", input{args: with("--cloudstack-list-page-size=0")}, prefix+
			"--cloudstack-list-page-size (CLOUDSTACK_LIST_PAGE_SIZE) must be at least 1, got 0; use the management server's default.page.size (500 unless changed)"),
		Entry("userdata limit above CloudStack's ceiling", input{args: with("--userdata-max-length=2000000")}, prefix+
			"--userdata-max-length (USERDATA_MAX_LENGTH) must be between 1 and 1048576 (CloudStack's ceiling for vm.userdata.max.length), got 2000000"),
		Entry("non-positive rates and durations", input{args: with("--cloudstack-api-qps=0", "--cloudstack-api-burst=0",
			"--cloudstack-http-timeout=0s", "--offerings-cache-ttl=-1s", "--unavailable-offerings-ttl=0s", "--gc-grace-period=-1m")}, prefix+
			"--cloudstack-api-qps (CLOUDSTACK_API_QPS) must be a positive number, got 0\n"+
			"--cloudstack-api-burst (CLOUDSTACK_API_BURST) must be at least 1, got 0\n"+
			"--cloudstack-http-timeout (CLOUDSTACK_HTTP_TIMEOUT) must be a positive duration such as 30s or 5m, got 0s\n"+
			"--offerings-cache-ttl (OFFERINGS_CACHE_TTL) must be a positive duration such as 30s or 5m, got -1s\n"+
			"--unavailable-offerings-ttl (UNAVAILABLE_OFFERINGS_TTL) must be a positive duration such as 30s or 5m, got 0s\n"+
			"--gc-grace-period (GC_GRACE_PERIOD) must not be negative, got -1m0s"),
		Entry("a credentials dir that does not exist", input{args: with("--cloudstack-credentials-dir=/nonexistent/creds")}, prefix+
			`--cloudstack-credentials-dir (CLOUDSTACK_CREDENTIALS_DIR) "/nonexistent/creds" is not a readable directory; mount the credentials Secret there or unset it`),
		Entry("a verify-ssl file that is not a bool", input{args: with("--cloudstack-credentials-dir=$DIR"), files: map[string]string{"verify-ssl": "maybe"}}, prefix+
			`file verify-ssl in the credentials dir holds "maybe"; it must be true or false`),
		Entry("a CA bundle that is not PEM", input{args: with("--cloudstack-ca-bundle=$BADCA")}, prefix+
			`--cloudstack-ca-bundle (CLOUDSTACK_CA_BUNDLE) "$BADCA" holds no PEM certificate; point it at a file of -----BEGIN CERTIFICATE----- blocks`),
		Entry("a CA bundle that does not exist", input{args: with("--cloudstack-ca-bundle=/nonexistent/ca.pem")}, prefix+
			`--cloudstack-ca-bundle (CLOUDSTACK_CA_BUNDLE): reading "/nonexistent/ca.pem": open /nonexistent/ca.pem: no such file or directory`),
	)

	Context("secrets", func() {
		It("never prints the API key or the secret key", func() {
			o, err := parse(input{args: required})
			Expect(err).ToNot(HaveOccurred())
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("options", "options", o)
			for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%v|%+v|%#v|%s", o, o, o, o), logged.String(), fmt.Sprint(o.MarshalLog())} {
				Expect(s).ToNot(ContainSubstring(testSecret))
				Expect(s).ToNot(ContainSubstring(testKey))
				Expect(s).To(ContainSubstring("<redacted>"))
				Expect(s).To(ContainSubstring(testURL))
			}
		})
		// printers are every way Options can reach a log, an event or an error message.
		printers := map[string]func(o *options.Options) string{
			"String":     func(o *options.Options) string { return o.String() },
			"%v":         func(o *options.Options) string { return fmt.Sprintf("%v", o) },
			"%+v":        func(o *options.Options) string { return fmt.Sprintf("%+v", o) },
			"%#v":        func(o *options.Options) string { return fmt.Sprintf("%#v", o) },
			"%s":         func(o *options.Options) string { return fmt.Sprintf("%s", o) },
			"%v value":   func(o *options.Options) string { return fmt.Sprintf("%v", *o) },
			"MarshalLog": func(o *options.Options) string { return fmt.Sprint(o.MarshalLog()) },
			"json": func(o *options.Options) string {
				b, err := json.Marshal(o)
				Expect(err).ToNot(HaveOccurred())
				return string(b)
			},
			"slog JSON": func(o *options.Options) string {
				var b bytes.Buffer
				slog.New(slog.NewJSONHandler(&b, nil)).Info("options", "options", o)
				return b.String()
			},
			"slog text": func(o *options.Options) string {
				var b bytes.Buffer
				slog.New(slog.NewTextHandler(&b, nil)).Info("options", "options", o)
				return b.String()
			},
		}
		It("redacts every field tagged secret in every printer, and prints every other field", func() {
			o := options.Defaults()
			o.APIURL = testURL
			t := reflect.TypeFor[options.Options]()
			var secrets []string
			for i := range t.NumField() {
				f := t.Field(i)
				if f.Tag.Get("secret") != "true" {
					continue
				}
				Expect(f.Type.Kind()).To(Equal(reflect.String), "secret field %s must be a string for this test", f.Name)
				sentinel := "sentinel-of-" + f.Name
				reflect.ValueOf(o).Elem().Field(i).SetString(sentinel)
				secrets = append(secrets, sentinel)
			}
			Expect(secrets).To(HaveLen(2), "APIKey and SecretKey are tagged secret")
			for name, print := range printers {
				s := print(o)
				for _, sentinel := range secrets {
					Expect(s).ToNot(ContainSubstring(sentinel), "printer %s", name)
				}
				Expect(s).To(ContainSubstring("redacted"), "printer %s", name) // encoding/json escapes the <>
				Expect(s).To(ContainSubstring(testURL), "printer %s", name)
				for i := range t.NumField() {
					if f := t.Field(i); f.IsExported() && f.Tag.Get("print") != "-" {
						Expect(s).To(ContainSubstring(f.Name), "printer %s leaves out field %s", name, f.Name)
					}
				}
			}
		})
		It("keeps the environment's secret out of --help", func() {
			setEnv("CLOUDSTACK_SECRET_KEY", testSecret)
			setEnv("CLOUDSTACK_API_KEY", testKey)
			fs := newFlagSet()
			(&options.Options{}).AddFlags(fs)
			var usage bytes.Buffer
			fs.SetOutput(&usage)
			fs.PrintDefaults()
			Expect(usage.String()).To(ContainSubstring("cloudstack-secret-key"))
			Expect(usage.String()).To(ContainSubstring(`(default 32768)`))
			Expect(usage.String()).ToNot(ContainSubstring(testSecret))
			Expect(usage.String()).ToNot(ContainSubstring(testKey))
		})
	})

	Context("context", func() {
		It("round-trips a copy through the context", func() {
			o, err := parse(input{args: required})
			Expect(err).ToNot(HaveOccurred())
			ctx := o.ToContext(context.Background())
			o.ClusterName = "changed-after-injection"
			Expect(options.FromContext(ctx).ClusterName).To(Equal("prod"))
			Expect(options.FromContext(options.ToContext(context.Background(), o)).ClusterName).To(Equal("changed-after-injection"))
		})
		It("panics with a wiring hint when missing", func() {
			Expect(func() { options.FromContext(context.Background()) }).To(PanicWith(ContainSubstring("register options.Injectables before NewOperator")))
		})
	})
})
