package cloudstack_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// sentCommands reads the client's source for the command names it passes to do, read, listAll and listScoped: every request
// the provider sends goes through one of them.
func sentCommands() []string {
	files, err := filepath.Glob("*.go")
	Expect(err).NotTo(HaveOccurred())
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		file, err := parser.ParseFile(fset, f, src, 0)
		Expect(err).NotTo(HaveOccurred())
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 3 {
				return true
			}
			fun := call.Fun
			if ix, ok := fun.(*ast.IndexExpr); ok {
				fun = ix.X
			}
			id, ok := fun.(*ast.Ident)
			if !ok || (id.Name != "do" && id.Name != "read" && id.Name != "listAll" && id.Name != "listScoped") {
				return true
			}
			if arg, ok := call.Args[2].(*ast.Ident); ok && arg.Name == "command" {
				return true // the wrappers passing their own argument on
			}
			lit, ok := call.Args[2].(*ast.BasicLit)
			Expect(ok).To(BeTrue(), "%s: the command name passed to %s must be a string literal", fset.Position(call.Pos()), id.Name)
			name, err := strconv.Unquote(lit.Value)
			Expect(err).NotTo(HaveOccurred())
			seen[name] = true
			return true
		})
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func requiredNames(includeChecked bool) []string {
	var out []string
	for _, c := range cloudstack.RequiredCommands() {
		if includeChecked || !c.Checked {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

var _ = Describe("required commands", func() {
	It("lists exactly the commands the client sends, plus those the server checks on its behalf", func() {
		Expect(sentCommands()).To(Equal(requiredNames(false)),
			"pkg/cloudstack/commands.go must list every command the client calls (and INSTALLATION.md is generated from it)")
	})

	DescribeTable("is the role the catalogs give the provider's account", func(path string) {
		c, err := simulator.LoadCatalog(path)
		Expect(err).NotTo(HaveOccurred())
		var role string
		for _, a := range c.Accounts {
			if a.Name == "karpenter" {
				role = a.Role
			}
		}
		Expect(role).NotTo(BeEmpty(), "the provider's account must hold the documented role, not a built-in one")
		for _, r := range c.Roles {
			if r.Name == role {
				got := append([]string(nil), r.Commands...)
				sort.Strings(got)
				Expect(got).To(Equal(requiredNames(true)))
				return
			}
		}
		Fail("role " + role + " is not defined")
	},
		Entry("example catalog (envtest suites)", catalogPath),
		Entry("environment catalog (e2e, demo)", "../../test/pkg/environment/catalog.yaml"),
	)

	Context("with a role that lacks a command", func() {
		narrow := func(drop string) *env {
			c := loadCatalog()
			var cmds []string
			for _, n := range requiredNames(true) {
				if n != drop {
					cmds = append(cmds, n)
				}
			}
			c.Roles = []simulator.Role{{Name: "narrow", Commands: cmds}}
			for i := range c.Accounts {
				if c.Accounts[i].APIKey == userKey {
					c.Accounts[i].Role = "narrow"
				}
			}
			return newEnv(c)
		}

		It("reports a refused command as unauthorized (432)", func(ctx context.Context) {
			e := narrow("listNetworks")
			_, err := e.client.ListNetworks(ctx, e.zoneID(ctx, "zone-a"))
			Expect(cserrors.Code(err)).To(Equal(432))
			Expect(cserrors.IsUnauthorized(err)).To(BeTrue())
			Expect(err).To(MatchError(ContainSubstring("listNetworks")))
		})

		It("fails a destroy with expunge when the role lacks expungeVirtualMachine", func(ctx context.Context) {
			e := narrow("expungeVirtualMachine")
			id := e.deploy(ctx, "node-noexpunge")
			err := e.client.DestroyVM(ctx, id, true)
			Expect(cserrors.Code(err)).To(Equal(531))
			Expect(cserrors.IsExpungeRefused(err)).To(BeTrue())
			Expect(e.client.DestroyVM(ctx, id, false)).To(Succeed())
		})
	})
})
