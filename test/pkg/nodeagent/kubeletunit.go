package nodeagent

import (
	"encoding/base64"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Distro is how a node image's kubelet service is set up. The kubeadm packages of both families install the same
// systemd drop-in (10-kubeadm.conf); it reads KUBELET_EXTRA_ARGS from an environment file only its own family uses.
type Distro struct {
	// Name is "debian" or "rhel".
	Name string
	// EnvironmentFile is the file the package's drop-in reads KUBELET_EXTRA_ARGS from.
	EnvironmentFile string
}

var (
	// Debian is the Debian family (Debian, Ubuntu): the kubelet .deb reads /etc/default/kubelet.
	Debian = Distro{Name: "debian", EnvironmentFile: "/etc/default/kubelet"}
	// RHEL is the Red Hat family (RHEL, Rocky, AlmaLinux, CentOS, Oracle Linux, Fedora): the kubelet .rpm reads
	// /etc/sysconfig/kubelet and never /etc/default/kubelet.
	RHEL = Distro{Name: "rhel", EnvironmentFile: "/etc/sysconfig/kubelet"}
)

var rhelOSTypes = regexp.MustCompile(`(?i)red ?hat|rhel|rocky|alma|centos|oracle|fedora`)

// DistroOf is the family of a template's OS type (CloudStack's osdisplayname); anything not Red Hat-like is taken
// for Debian-like.
func DistroOf(osType string) Distro {
	if rhelOSTypes.MatchString(osType) {
		return RHEL
	}
	return Debian
}

// kubeadmDropIn is the drop-in the kubeadm packages install (kubernetes/release, identical in both families but
// for the environment file), at /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf.
func (d Distro) kubeadmDropIn() string {
	return `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-` + d.EnvironmentFile + `
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`
}

// packageFiles are the files the kubelet package ships: its drop-in, and an environment file that sets
// KUBELET_EXTRA_ARGS to nothing.
func (d Distro) packageFiles() map[string]string {
	return map[string]string{
		"/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": d.kubeadmDropIn(),
		d.EnvironmentFile: "KUBELET_EXTRA_ARGS=\n",
	}
}

// dropInDirs are where systemd looks for kubelet.service drop-ins; a file in an earlier directory hides one of the
// same name in a later one, and all are then applied in file-name order.
var dropInDirs = []string{"/etc/systemd/system/kubelet.service.d", "/run/systemd/system/kubelet.service.d", "/usr/lib/systemd/system/kubelet.service.d", "/lib/systemd/system/kubelet.service.d"}

// cloudConfig is the part of cloud-init's #cloud-config a node agent needs: the files it writes before runcmd.
type cloudConfig struct {
	WriteFiles []struct {
		Path     string `json:"path"`
		Content  string `json:"content"`
		Encoding string `json:"encoding"`
	} `json:"write_files"`
}

// KubeletCommandLine is the kubelet's command line on a node of that distro once cloud-init ran the userData.
//
// For #cloud-config, the files of write_files are laid over the kubelet package's files, and the command line is
// what systemd starts: the ExecStart of kubelet.service's drop-ins with their Environment= and EnvironmentFile=
// variables expanded (later files override earlier ones, as systemd reads them). So a flag written to the other
// family's environment file is not seen, and a drop-in of its own is seen on both. Any other userData (a shell
// script) is taken to start the kubelet itself, so the flags it contains are its command line.
func KubeletCommandLine(userData string, distro Distro) (string, error) {
	if !strings.HasPrefix(userData, "#cloud-config") {
		return userData, nil
	}
	var cc cloudConfig
	if err := yaml.Unmarshal([]byte(userData), &cc); err != nil {
		return "", fmt.Errorf("parsing #cloud-config, %w", err)
	}
	files := distro.packageFiles()
	for _, f := range cc.WriteFiles {
		content := f.Content
		switch f.Encoding {
		case "", "text/plain":
		case "b64", "base64":
			raw, err := base64.StdEncoding.DecodeString(content)
			if err != nil {
				return "", fmt.Errorf("write_files %s: decoding base64, %w", f.Path, err)
			}
			content = string(raw)
		default:
			return "", fmt.Errorf("write_files %s: encoding %q is not supported by the node agent", f.Path, f.Encoding)
		}
		files[path.Clean(f.Path)] = content
	}
	return unitCommandLine(files)
}

// unitCommandLine evaluates kubelet.service's drop-ins among files as systemd does.
func unitCommandLine(files map[string]string) (string, error) {
	byName := map[string]string{}
	for _, dir := range dropInDirs {
		for p, content := range files {
			if path.Dir(p) == dir && strings.HasSuffix(p, ".conf") {
				if _, hidden := byName[path.Base(p)]; !hidden {
					byName[path.Base(p)] = content
				}
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	env := map[string]string{}
	var envFiles []string
	execStart := ""
	for _, n := range names {
		section := ""
		for _, line := range strings.Split(byName[n], "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") {
				section = line
				continue
			}
			key, value, ok := strings.Cut(line, "=")
			if section != "[Service]" || !ok || strings.HasPrefix(line, "#") {
				continue
			}
			switch key {
			case "Environment":
				for _, assignment := range environmentAssignments(value) {
					k, v, _ := strings.Cut(assignment, "=")
					env[k] = v
				}
			case "EnvironmentFile":
				envFiles = append(envFiles, value)
			case "ExecStart":
				execStart = value
			}
		}
	}
	if execStart == "" {
		return "", fmt.Errorf("kubelet.service has no ExecStart: no drop-in starts the kubelet")
	}
	// Variables from EnvironmentFile= override Environment=, and later files override earlier ones.
	for _, f := range envFiles {
		optional := strings.HasPrefix(f, "-")
		f = strings.TrimPrefix(f, "-")
		content, ok := files[path.Clean(f)]
		if !ok {
			if optional {
				continue
			}
			return "", fmt.Errorf("kubelet.service needs EnvironmentFile %s, which nothing writes", f)
		}
		for _, line := range strings.Split(content, "\n") {
			line = strings.TrimSpace(line)
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			env[strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
		}
	}
	return expandVars(execStart, env), nil
}

// environmentAssignments splits an Environment= value into its VAR=value words ("A=1 2" B=3).
func environmentAssignments(value string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for _, r := range value {
		switch {
		case r == '"':
			inQuote = !inQuote
		case r == ' ' && !inQuote:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

var varPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expandVars replaces $VAR and ${VAR} with their values (unset is empty), as systemd does in ExecStart.
func expandVars(s string, env map[string]string) string {
	return varPattern.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "${}")
		return env[name]
	})
}
