package nodeclass_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/awslabs/operatorpkg/status"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/log"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/events"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	gocache "github.com/patrickmn/go-cache"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

func id(kind, name string) string { return simulator.StableID(kind, name) }

func names(n ...string) []v1.SelectorTerm {
	return lo.Map(n, func(s string, _ int) v1.SelectorTerm { return v1.SelectorTerm{Name: s} })
}

// newNodeClass is a NodeClass every dependency of which resolves in both zones.
func newNodeClass(mutate ...func(*v1.CloudStackNodeClass)) *v1.CloudStackNodeClass {
	nc := &v1.CloudStackNodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1.CloudStackNodeClassSpec{
			ZoneSelectorTerms:            names("zone-a", "zone-b"),
			NetworkSelectorTerms:         names("net-a", "net-b"),
			TemplateSelectorTerms:        names("ubuntu-24.04"),
			ServiceOfferingSelectorTerms: names("small", "medium"),
			AffinityGroupSelectorTerms:   names("spread"),
			SSHKeyPair:                   lo.ToPtr("ops"),
			UserData:                     lo.ToPtr("#!/bin/sh\necho {{ .NodeClaimName }} {{ .KubeletArgs }}\n"),
		},
	}
	for _, m := range mutate {
		m(nc)
	}
	return nc
}

func reconcileNodeClass(nc *v1.CloudStackNodeClass) *v1.CloudStackNodeClass {
	GinkgoHelper()
	ExpectObjectReconciled(ctx, env.Client, controller, nc)
	return ExpectExists(ctx, env.Client, nc)
}

func condition(nc *v1.CloudStackNodeClass, t string) *status.Condition {
	return nc.StatusConditions(status.WithObservedOnly()).Get(t)
}

func cleanUp() {
	GinkgoHelper()
	ExpectCleanedUp(ctx, env.Client)
	list := &v1.CloudStackNodeClassList{}
	Expect(env.Client.List(ctx, list)).To(Succeed())
	for i := range list.Items {
		nc := &list.Items[i]
		ExpectFinalizersRemoved(ctx, env.Client, nc)
		ExpectDeleted(ctx, env.Client, nc)
		ExpectNotFound(ctx, env.Client, nc)
	}
}

func nodeClaimFor(nodeClassName, name string) *karpv1.NodeClaim {
	return coretest.NodeClaim(karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: karpv1.NodeClaimSpec{NodeClassRef: &karpv1.NodeClassReference{
			Group: apis.Group, Kind: "CloudStackNodeClass", Name: nodeClassName,
		}},
	})
}

var _ = Describe("NodeClass controller", func() {
	It("resolves every dependency in every zone and becomes Ready", func() {
		nc := newNodeClass()
		ExpectApplied(ctx, env.Client, nc)
		result := ExpectObjectReconciled(ctx, env.Client, controller, nc)
		Expect(result.RequeueAfter).To(Equal(nodeclass.RequeueInterval))
		nc = ExpectExists(ctx, env.Client, nc)

		Expect(nc.Status.Zones).To(Equal([]v1.Zone{{ID: id("zone", "zone-a"), Name: "zone-a"}, {ID: id("zone", "zone-b"), Name: "zone-b"}}))
		Expect(nc.Status.Networks).To(ConsistOf(
			v1.Network{ID: id("network", "net-a"), Name: "net-a", ZoneID: id("zone", "zone-a")},
			v1.Network{ID: id("network", "net-b"), Name: "net-b", ZoneID: id("zone", "zone-b")},
		))
		Expect(nc.Status.Templates).To(HaveLen(2))
		for i, z := range []string{"zone-a", "zone-b"} {
			Expect(nc.Status.Templates[i].ID).To(Equal(id("template", "ubuntu-24.04")))
			Expect(nc.Status.Templates[i].ZoneID).To(Equal(id("zone", z)))
		}
		Expect(nc.Status.ServiceOfferings).To(Equal([]v1.ServiceOffering{
			{ID: id("serviceoffering", "small"), Name: "small"}, {ID: id("serviceoffering", "medium"), Name: "medium"},
		}))
		Expect(nc.Status.AffinityGroups).To(Equal([]v1.AffinityGroup{{ID: id("affinitygroup", "spread"), Name: "spread"}}))
		Expect(nc.Status.SSHKeyPair).To(Equal("ops"))
		for _, t := range []string{v1.ConditionTypeZonesReady, v1.ConditionTypeNetworksReady, v1.ConditionTypeTemplatesReady,
			v1.ConditionTypeServiceOfferingsReady, v1.ConditionTypeUserDataReady, v1.ConditionTypeSSHKeyPairReady,
			v1.ConditionTypeAffinityGroupsReady, status.ConditionReady} {
			Expect(condition(nc, t).IsTrue()).To(BeTrue(), t)
			Expect(condition(nc, t).Reason).To(Equal(t))
		}
		Expect(nc.Finalizers).To(ContainElement(v1.TerminationFinalizer))
		Expect(recorder.Events()).To(BeEmpty())
	})

	It("resolves each zone's own networks and default NIC", func() {
		nc := newNodeClass(func(nc *v1.CloudStackNodeClass) {
			nc.Spec.NetworkSelectorTerms = names("net-a-extra", "net-a", "net-b")
		})
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(nc.Status.Networks).To(Equal([]v1.Network{
			{ID: id("network", "net-a-extra"), Name: "net-a-extra", ZoneID: id("zone", "zone-a")},
			{ID: id("network", "net-a"), Name: "net-a", ZoneID: id("zone", "zone-a")},
			{ID: id("network", "net-b"), Name: "net-b", ZoneID: id("zone", "zone-b")},
		}))
	})

	DescribeTable("optional dependencies that are not set are Ready with reason NotConfigured",
		func(conditionType, message string, unset func(*v1.CloudStackNodeClass)) {
			nc := newNodeClass(unset)
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			c := condition(nc, conditionType)
			Expect(c.IsTrue()).To(BeTrue())
			Expect(c.Reason).To(Equal(nodeclass.ReasonNotConfigured))
			Expect(c.Message).To(Equal(message))
			Expect(condition(nc, status.ConditionReady).IsTrue()).To(BeTrue())
		},
		Entry("userData", v1.ConditionTypeUserDataReady, "spec.userData is not set; VMs boot with no user data",
			func(nc *v1.CloudStackNodeClass) { nc.Spec.UserData = nil }),
		Entry("SSH key pair", v1.ConditionTypeSSHKeyPairReady, "spec.sshKeyPair is not set",
			func(nc *v1.CloudStackNodeClass) { nc.Spec.SSHKeyPair = nil }),
		Entry("affinity groups", v1.ConditionTypeAffinityGroupsReady, "spec.affinityGroupSelectorTerms is not set",
			func(nc *v1.CloudStackNodeClass) { nc.Spec.AffinityGroupSelectorTerms = nil }),
		Entry("security groups", v1.ConditionTypeSecurityGroupsReady, "spec.securityGroupSelectorTerms is not set",
			func(nc *v1.CloudStackNodeClass) { nc.Spec.SecurityGroupSelectorTerms = nil }),
		Entry("data disks", v1.ConditionTypeDataDisksReady, "spec.dataDisks is not set",
			func(nc *v1.CloudStackNodeClass) { nc.Spec.DataDisks = nil }),
	)

	DescribeTable("a dependency that does not resolve gives its condition a precise reason and message",
		func(conditionType, reason, message string, mutate func(*v1.CloudStackNodeClass)) {
			nc := newNodeClass(mutate)
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			c := condition(nc, conditionType)
			Expect(c.IsFalse()).To(BeTrue())
			Expect(c.Reason).To(Equal(reason))
			Expect(c.Message).To(Equal(message))
			ready := condition(nc, status.ConditionReady)
			Expect(ready.IsFalse()).To(BeTrue())
			Expect(ready.Reason).To(Equal("UnhealthyDependents"))
			Expect(ready.Message).To(ContainSubstring(conditionType + "=False: " + message))
			Expect(recorder.Events()).To(ContainElement(SatisfyAll(
				HaveField("Type", corev1.EventTypeWarning),
				HaveField("Reason", reason),
				HaveField("Message", conditionType+" is False: "+message),
			)))
		},
		Entry("spec.zone names no zone", v1.ConditionTypeZonesReady, nodeclass.ReasonZoneNotFound,
			`spec.zone: no zone with name or ID "zone-x" is visible to the account (CloudStack hides disabled zones from non-admin accounts)`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.ZoneSelectorTerms = nil; nc.Spec.Zone = "zone-x" }),
		Entry("spec.zone names a zone disabled for a non-admin account", v1.ConditionTypeZonesReady, nodeclass.ReasonZoneNotFound,
			`spec.zone: no zone with name or ID "zone-c" is visible to the account (CloudStack hides disabled zones from non-admin accounts)`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.ZoneSelectorTerms = nil; nc.Spec.Zone = "zone-c" }),
		Entry("zone selector terms match nothing enabled", v1.ConditionTypeZonesReady, nodeclass.ReasonZonesNotFound,
			"spec.zoneSelectorTerms: no Enabled zone matches any term",
			func(nc *v1.CloudStackNodeClass) { nc.Spec.ZoneSelectorTerms = names("zone-c", "zone-z") }),
		Entry("a zone without a matching network", v1.ConditionTypeNetworksReady, nodeclass.ReasonNetworksNotFound,
			`spec.networkSelectorTerms: no deployable network matches (name="net-a") in zone(s) "zone-b"`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.NetworkSelectorTerms = names("net-a") }),
		Entry("a template present in one zone only", v1.ConditionTypeTemplatesReady, nodeclass.ReasonTemplateNotFound,
			`spec.templateSelectorTerms: no executable, ready template matches (name="ubuntu-a-only") in zone(s) "zone-b"`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.TemplateSelectorTerms = names("ubuntu-a-only") }),
		Entry("a template that is not ready", v1.ConditionTypeTemplatesReady, nodeclass.ReasonTemplateNotFound,
			`spec.templateSelectorTerms: no executable, ready template matches (name="downloading") in zone(s) "zone-a", "zone-b"`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.TemplateSelectorTerms = names("downloading") }),
		Entry("a rootDiskSize smaller than the template", v1.ConditionTypeTemplatesReady, nodeclass.ReasonRootDiskSmallerThanTemplate,
			`spec.rootDiskSize (7680Mi, sent as 8 GiB) is smaller than template(s) "big" (9 GiB); CloudStack refuses to deploy `+
				`a root disk smaller than its template: set spec.rootDiskSize to at least 9Gi, or remove it to use the template's size`,
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.TemplateSelectorTerms = names("big")
				nc.Spec.RootDiskSize = lo.ToPtr(resource.MustParse("7.5Gi"))
			}),
		Entry("kubelet reservations larger than every offering", v1.ConditionTypeServiceOfferingsReady, nodeclass.ReasonKubeletReservationsExceedOfferings,
			`spec.kubelet: kubeReserved, systemReserved and evictionHard leave no CPU or memory to pods on any of the 2 instance types `+
				`of the selected service offerings; the largest, "medium", has cpu=2 memory=3891Mi and would reserve cpu=1500m memory=4196Mi; `+
				`lower the reservations or select larger offerings`,
			func(nc *v1.CloudStackNodeClass) {
				// Every reservation explicit, so that the message does not depend on the default formulas.
				nc.Spec.Kubelet = &v1.KubeletConfiguration{
					KubeReserved:   map[string]string{"cpu": "1500m", "memory": "1Gi"},
					SystemReserved: map[string]string{"cpu": "0", "memory": "3Gi"},
					EvictionHard:   map[string]string{"memory.available": "100Mi"},
				}
			}),
		Entry("only a system offering matches", v1.ConditionTypeServiceOfferingsReady, nodeclass.ReasonServiceOfferingsNotFound,
			`spec.serviceOfferingSelectorTerms: no active, non-system service offering matches (name="sysvm") in zone(s) "zone-a", "zone-b"`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.ServiceOfferingSelectorTerms = names("sysvm") }),
		Entry("userData with a missing key", v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataTemplateInvalid,
			`spec.userData is not a valid template, template: spec.userData:2:15: executing "spec.userData" at <.Labels.team>: map has no entry for key "team"`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.UserData = lo.ToPtr("#!/bin/sh\necho {{ .Labels.team }}\n") }),
		Entry("userData that does not parse", v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataTemplateInvalid,
			`spec.userData is not a valid template, template: spec.userData:1: function "nope" not defined`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.UserData = lo.ToPtr("{{ nope }}") }),
		Entry("userData above the size limit", v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataTooLarge,
			fmt.Sprintf("spec.userData renders to %d bytes once gzip'ed and base64'ed, above the limit of 32768 bytes; shorten it, "+
				"or raise vm.userdata.max.length on the management server (at most 1048576) and --userdata-max-length (USERDATA_MAX_LENGTH) to match",
				encodedLen(incompressible(34000))),
			func(nc *v1.CloudStackNodeClass) { nc.Spec.UserData = lo.ToPtr(incompressible(34000)) }),
		Entry("userData printing a large string in a loop", v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataRenderLimitExceeded,
			"spec.userData: rendering stopped, the template exceeds the rendered size bound of 4194304 bytes; "+
				"render less (fewer or smaller loops, shorter strings), see docs/bootstrap.md for the bounds",
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.UserData = lo.ToPtr(`{{ $s := printf "%1000s" "x" }}{{ $n := 1000000000 }}{{ range $n }}{{ $s }}{{ end }}`)
			}),
		Entry("userData looping over a huge range", v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataRenderLimitExceeded,
			"spec.userData: rendering stopped, the template exceeds the loop steps bound of 100000; "+
				"render less (fewer or smaller loops, shorter strings), see docs/bootstrap.md for the bounds",
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.UserData = lo.ToPtr(`{{ $n := 1000000000000 }}{{ range $n }}{{ end }}`)
			}),
		Entry("userData with nested define/template", v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataTemplateInvalid,
			"spec.userData is not a valid template, {{ define }} and {{ block }} are not supported in spec.userData; write the text out where it is used",
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.UserData = lo.ToPtr(`{{ define "a" }}xxxxxxxx{{ end }}{{ define "b" }}{{ template "a" }}{{ template "a" }}{{ end }}{{ template "b" }}`)
			}),
		Entry("an SSH key pair that does not exist", v1.ConditionTypeSSHKeyPairReady, nodeclass.ReasonSSHKeyPairNotFound,
			`spec.sshKeyPair: no SSH key pair named "nope" exists in the account`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.SSHKeyPair = lo.ToPtr("nope") }),
		Entry("an affinity group term that matches nothing", v1.ConditionTypeAffinityGroupsReady, nodeclass.ReasonAffinityGroupsNotFound,
			`spec.affinityGroupSelectorTerms: no affinity group matches term(s) [1] (name="spred")`,
			func(nc *v1.CloudStackNodeClass) { nc.Spec.AffinityGroupSelectorTerms = names("spread", "spred") }),
		Entry("a security group term that matches nothing (another account's group included)", v1.ConditionTypeSecurityGroupsReady,
			nodeclass.ReasonSecurityGroupsNotFound,
			`spec.securityGroupSelectorTerms: no security group of the account matches term(s) [1] (name="admins-only")`,
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.ZoneSelectorTerms = names("zone-sg")
				nc.Spec.NetworkSelectorTerms = names("net-sg")
				nc.Spec.SecurityGroupSelectorTerms = names("web", "admins-only")
			}),
		Entry("security groups in zones that have them disabled", v1.ConditionTypeSecurityGroupsReady, nodeclass.ReasonSecurityGroupsUnsupportedInZone,
			`spec.securityGroupSelectorTerms: zone(s) "zone-a", "zone-b" have security groups disabled, and CloudStack refuses securitygroupids there; `+
				"select only security-group zones in this NodeClass, or remove the terms",
			func(nc *v1.CloudStackNodeClass) { nc.Spec.SecurityGroupSelectorTerms = names("web") }),
		Entry("a disk offering that does not exist", v1.ConditionTypeDataDisksReady, nodeclass.ReasonDiskOfferingsNotFound,
			`spec.dataDisks: no disk offering of the account matches spec.dataDisks[1] (name="fixed-2O").diskOffering`,
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.DataDisks = []v1.DataDisk{{DiskOffering: v1.DiskOfferingSelector{Name: "fixed-20"}}, {DiskOffering: v1.DiskOfferingSelector{Name: "fixed-2O"}}}
			}),
		Entry("a disk offering of one zone only", v1.ConditionTypeDataDisksReady, nodeclass.ReasonDiskOfferingNotInZones,
			`spec.dataDisks[0].diskOffering: disk offering "b-only" is not available in zone(s) "zone-a" of this NodeClass; `+
				"choose an offering of every zone, or select only the zones that have it",
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.DataDisks = []v1.DataDisk{{DiskOffering: v1.DiskOfferingSelector{Name: "b-only"}}}
			}),
		Entry("a customized disk offering without size", v1.ConditionTypeDataDisksReady, nodeclass.ReasonDataDiskSizeRequired,
			`spec.dataDisks[0].size: disk offering "custom" is customized, so CloudStack needs the size of the disk; set size`,
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.DataDisks = []v1.DataDisk{{DiskOffering: v1.DiskOfferingSelector{Name: "custom"}}}
			}),
		Entry("a fixed disk offering with a size", v1.ConditionTypeDataDisksReady, nodeclass.ReasonDataDiskSizeNotAllowed,
			`spec.dataDisks[0].size: disk offering "fixed-20" has a fixed size of 20 GiB and CloudStack refuses another; remove size`,
			func(nc *v1.CloudStackNodeClass) {
				nc.Spec.DataDisks = []v1.DataDisk{{DiskOffering: v1.DiskOfferingSelector{Name: "fixed-20"}, Size: lo.ToPtr(resource.MustParse("30Gi"))}}
			}),
	)

	It("resolves data disks in order, with their size and device IDs 1, 2, 4", func() {
		nc := newNodeClass(func(nc *v1.CloudStackNodeClass) {
			nc.Spec.DataDisks = []v1.DataDisk{
				{Name: "containerd", DiskOffering: v1.DiskOfferingSelector{Name: "custom"}, Size: lo.ToPtr(resource.MustParse("100Gi"))},
				{DiskOffering: v1.DiskOfferingSelector{ID: id("diskoffering", "fixed-20")}},
				{DiskOffering: v1.DiskOfferingSelector{Name: "fixed-20"}},
			}
		})
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(condition(nc, v1.ConditionTypeDataDisksReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		zones := []string{"zone-a", "zone-b"}
		Expect(nc.Status.DataDisks).To(Equal([]v1.ResolvedDataDisk{
			{Name: "containerd", DiskOfferingID: id("diskoffering", "custom"), DiskOfferingName: "custom", Customized: true, SizeGiB: 100, DeviceID: 1, Zones: zones},
			{DiskOfferingID: id("diskoffering", "fixed-20"), DiskOfferingName: "fixed-20", SizeGiB: 20, DeviceID: 2, Zones: zones},
			{DiskOfferingID: id("diskoffering", "fixed-20"), DiskOfferingName: "fixed-20", SizeGiB: 20, DeviceID: 4, Zones: zones},
		}))
		Expect(condition(nc, status.ConditionReady).IsTrue()).To(BeTrue())
	})

	It("resolves security groups by tags and name, in term order, in a security-group zone", func() {
		nc := newNodeClass(func(nc *v1.CloudStackNodeClass) {
			nc.Spec.ZoneSelectorTerms = names("zone-sg")
			nc.Spec.NetworkSelectorTerms = names("net-sg")
			nc.Spec.SecurityGroupSelectorTerms = []v1.SelectorTerm{{Name: "db"}, {Tags: map[string]string{"role": "web"}}}
		})
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(condition(nc, v1.ConditionTypeSecurityGroupsReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(nc.Status.SecurityGroups).To(Equal([]v1.SecurityGroup{
			{ID: id("securitygroup", "karpenter/db"), Name: "db"},
			{ID: id("securitygroup", "karpenter/web"), Name: "web"},
		}))
		Expect(condition(nc, status.ConditionReady).IsTrue()).To(BeTrue())
	})

	It("keeps a status when the selector terms it quotes are as long as admission allows", func() {
		// 30 terms of 20 tags of 255-character keys and values: a 300 KB description, far above the 32768 bytes
		// the apiserver allows in a condition message. Before messages were bounded the status patch was refused
		// and the NodeClass kept no status at all.
		terms := make([]v1.SelectorTerm, 30)
		for i := range terms {
			terms[i].Tags = map[string]string{}
			for j := 0; j < 20; j++ {
				terms[i].Tags[fmt.Sprintf("%03d-%02d-%s", i, j, strings.Repeat("k", 248))] = strings.Repeat("é", 127) + "v"
			}
		}
		nc := newNodeClass(func(nc *v1.CloudStackNodeClass) { nc.Spec.ServiceOfferingSelectorTerms = terms })
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		offerings := condition(nc, v1.ConditionTypeServiceOfferingsReady)
		Expect(offerings).ToNot(BeNil(), "the status patch must have been accepted")
		Expect(offerings.IsFalse()).To(BeTrue())
		Expect(offerings.Message).To(HavePrefix("spec.serviceOfferingSelectorTerms: no active, non-system service offering matches (tags=map[000-00-kkk"))
		Expect(offerings.Message).To(MatchRegexp(`\.\.\. \(\d+ more bytes\)$`))
		Expect(len(offerings.Message)).To(BeNumerically("<=", 4096))
		Expect(utf8.ValidString(offerings.Message)).To(BeTrue())
		ready := condition(nc, status.ConditionReady)
		Expect(ready.IsFalse()).To(BeTrue())
		Expect(ready.Message).To(HavePrefix("ServiceOfferingsReady=False: spec.serviceOfferingSelectorTerms"))
		Expect(len(ready.Message)).To(BeNumerically("<=", 4096))
		for _, e := range recorder.Events() {
			Expect(len(e.Message)).To(BeNumerically("<=", 1024))
		}
	})
	It("tells an admin account that spec.zone is disabled", func() {
		admin, err := csEnv.Client("admin")
		Expect(err).ToNot(HaveOccurred())
		p := newProviders()
		p.Zones = zone.NewDefaultProvider(admin, gocache.New(cache.DefaultTTL, cache.CleanupInterval))
		controller = nodeclass.NewController(env.Client, recorder, fakeClock, p)
		nc := newNodeClass(func(nc *v1.CloudStackNodeClass) { nc.Spec.ZoneSelectorTerms = nil; nc.Spec.Zone = id("zone", "zone-c") })
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		c := condition(nc, v1.ConditionTypeZonesReady)
		Expect(c.IsFalse()).To(BeTrue())
		Expect(c.Reason).To(Equal(nodeclass.ReasonZoneDisabled))
		Expect(c.Message).To(Equal(`spec.zone: zone "zone-c" is Disabled; only Enabled zones accept new VMs`))
	})

	It("waits for zones before resolving per-zone dependencies and clears what it resolved before", func() {
		nc := newNodeClass()
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(nc.Status.Networks).ToNot(BeEmpty())

		nc.Spec.ZoneSelectorTerms = names("zone-z")
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(nc.Status.Zones).To(BeEmpty())
		Expect(nc.Status.Networks).To(BeEmpty())
		Expect(nc.Status.Templates).To(BeEmpty())
		Expect(nc.Status.ServiceOfferings).To(BeEmpty())
		for t, field := range map[string]string{v1.ConditionTypeNetworksReady: "spec.networkSelectorTerms",
			v1.ConditionTypeTemplatesReady: "spec.templateSelectorTerms", v1.ConditionTypeServiceOfferingsReady: "spec.serviceOfferingSelectorTerms"} {
			c := condition(nc, t)
			Expect(c.IsUnknown()).To(BeTrue(), t)
			Expect(c.Reason).To(Equal("AwaitingZones"))
			Expect(c.Message).To(Equal(field + ": resolved once spec.zone or spec.zoneSelectorTerms resolve (see ZonesReady)"))
		}
		Expect(condition(nc, status.ConditionReady).IsFalse()).To(BeTrue())
	})

	It("recovers when the dependency appears: a corrected spec becomes Ready", func() {
		nc := newNodeClass(func(nc *v1.CloudStackNodeClass) { nc.Spec.TemplateSelectorTerms = names("ubuntu-a-only") })
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(condition(nc, status.ConditionReady).IsFalse()).To(BeTrue())
		nc.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{ID: id("template", "ubuntu-24.04")}}
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(condition(nc, v1.ConditionTypeTemplatesReady).IsTrue()).To(BeTrue())
		Expect(condition(nc, status.ConditionReady).IsTrue()).To(BeTrue())
	})

	Context("patching", func() {
		It("patches metadata and status once on the first reconcile and nothing on an unchanged one", func() {
			var patches, statusPatches atomic.Int32
			counting, err := client.NewWithWatch(env.Config, client.Options{Scheme: scheme.Scheme})
			Expect(err).ToNot(HaveOccurred())
			kube := interceptor.NewClient(counting, interceptor.Funcs{
				Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
					patches.Add(1)
					return c.Patch(ctx, obj, patch, opts...)
				},
				SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
					statusPatches.Add(1)
					return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
				},
			})
			ctrl := nodeclass.NewController(kube, recorder, fakeClock, newProviders())
			nc := newNodeClass()
			ExpectApplied(ctx, env.Client, nc)

			ExpectObjectReconciled(ctx, kube, ctrl, nc)
			Expect(patches.Load()).To(BeEquivalentTo(1), "finalizer and hash annotations in one patch")
			Expect(statusPatches.Load()).To(BeEquivalentTo(1), "every condition and resolved list in one status patch")
			nc = ExpectExists(ctx, env.Client, nc)
			rv := nc.ResourceVersion

			fakeClock.Step(nodeclass.RequeueInterval)
			ExpectObjectReconciled(ctx, kube, ctrl, nc)
			Expect(patches.Load()).To(BeEquivalentTo(1))
			Expect(statusPatches.Load()).To(BeEquivalentTo(1))
			Expect(ExpectExists(ctx, env.Client, nc).ResourceVersion).To(Equal(rv), "an unchanged NodeClass is not written")
		})
	})

	Context("hash", func() {
		It("annotates the pinned spec hash and its version", func() {
			nc := newNodeClass(func(nc *v1.CloudStackNodeClass) {
				nc.Spec.Tags = map[string]string{"team": "platform"}
				nc.Spec.RootDiskSize = lo.ToPtr(resource.MustParse("40Gi"))
				nc.Spec.Kubelet = &v1.KubeletConfiguration{MaxPods: lo.ToPtr[int32](58)}
			})
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			// Pinned: a change to this value drifts every node in every cluster on upgrade. Bump
			// v1.NodeClassHashVersion together with any intended change.
			Expect(nc.Annotations).To(HaveKeyWithValue(v1.AnnotationNodeClassHash, "7093468881671261413"))
			Expect(nc.Annotations).To(HaveKeyWithValue(v1.AnnotationNodeClassHashVersion, "v2"))
		})
		It("updates the hash when a hashed field changes, and not for selector terms", func() {
			nc := newNodeClass()
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			before := nc.Annotations[v1.AnnotationNodeClassHash]

			nc.Spec.NetworkSelectorTerms = names("net-a-extra", "net-b")
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			Expect(nc.Annotations[v1.AnnotationNodeClassHash]).To(Equal(before))

			nc.Spec.UserData = lo.ToPtr("#!/bin/sh\necho changed\n")
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			Expect(nc.Annotations[v1.AnnotationNodeClassHash]).ToNot(Equal(before))
			Expect(nc.Annotations[v1.AnnotationNodeClassHash]).To(Equal(nc.Hash()))
		})
	})

	Context("termination", func() {
		It("blocks deletion while a NodeClaim uses the NodeClass and lets go after", func() {
			nc := newNodeClass()
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			user := nodeClaimFor(nc.Name, "default-abcde")
			other := nodeClaimFor("another-nodeclass", "other-fghij")
			ExpectApplied(ctx, env.Client, user, other)

			Expect(env.Client.Delete(ctx, nc)).To(Succeed())
			nc = reconcileNodeClass(nc)
			Expect(nc.DeletionTimestamp.IsZero()).To(BeFalse())
			Expect(nc.Finalizers).To(ContainElement(v1.TerminationFinalizer))
			Expect(recorder.Events()).To(ContainElement(SatisfyAll(
				HaveField("Type", corev1.EventTypeWarning),
				HaveField("Reason", nodeclass.EventReasonWaitingOnNodeClaimTermination),
				HaveField("Message", "deletion waits for 1 NodeClaim(s) that use this NodeClass: default-abcde"),
			)))

			ExpectFinalizersRemoved(ctx, env.Client, user)
			ExpectDeleted(ctx, env.Client, user)
			ExpectNotFound(ctx, env.Client, user)
			ExpectObjectReconciled(ctx, env.Client, controller, nc)
			ExpectNotFound(ctx, env.Client, nc)
			ExpectExists(ctx, env.Client, other)
		})
		It("names at most ten NodeClaims in the event", func() {
			nc := newNodeClass()
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			for i := range 12 {
				ExpectApplied(ctx, env.Client, nodeClaimFor(nc.Name, "default-"+string(rune('a'+i))))
			}
			Expect(env.Client.Delete(ctx, nc)).To(Succeed())
			reconcileNodeClass(nc)
			evt, found := lo.Find(recorder.Events(), func(e events.Event) bool { return e.Reason == nodeclass.EventReasonWaitingOnNodeClaimTermination })
			Expect(found).To(BeTrue())
			Expect(evt.Message).To(Equal("deletion waits for 12 NodeClaim(s) that use this NodeClass: " +
				"default-a, default-b, default-c, default-d, default-e, default-f, default-g, default-h, default-i, default-j and 2 more"))
		})
	})

	Context("events and API failures", func() {
		It("emits a failure event once per transition, not on every reconcile", func() {
			nc := newNodeClass(func(nc *v1.CloudStackNodeClass) { nc.Spec.SSHKeyPair = lo.ToPtr("nope") })
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			Expect(recorder.Calls(nodeclass.ReasonSSHKeyPairNotFound)).To(Equal(1))
			reconcileNodeClass(nc)
			Expect(recorder.Calls(nodeclass.ReasonSSHKeyPairNotFound)).To(Equal(1))
		})
		It("keeps the resolved status when CloudStack fails, and reports the failure", func() {
			nc := newNodeClass()
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			resolved := nc.Status.DeepCopy()

			sim.SetErrorRate("listZones", 1)
			controller = nodeclass.NewController(env.Client, recorder, fakeClock, newProviders())
			err := ExpectObjectReconcileFailed(ctx, env.Client, controller, nc)
			Expect(err.Error()).To(ContainSubstring("resolving zones"))
			Expect(err.Error()).To(ContainSubstring("530"))
			nc = ExpectExists(ctx, env.Client, nc)
			Expect(nc.Status.Zones).To(Equal(resolved.Zones))
			Expect(condition(nc, v1.ConditionTypeZonesReady).IsTrue()).To(BeTrue())
			Expect(condition(nc, status.ConditionReady).IsTrue()).To(BeTrue(), "an API outage must not flap Ready")
			Expect(recorder.Calls(nodeclass.EventReasonResolutionFailed)).To(Equal(1))
		})
		It("never shows the API key or a request signature when CloudStack cannot be reached", func() {
			var logs strings.Builder
			logCtx := log.IntoContext(ctx, funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 10}))
			nc := newNodeClass()
			ExpectApplied(ctx, env.Client, nc)
			// Every request's connection is closed without an answer: the SDK's *url.Error carries the signed GET URL.
			sim.DropNextConnections(1000)
			defer sim.ResetFaults()
			err := ExpectObjectReconcileFailed(logCtx, env.Client, controller, nc)
			nc = ExpectExists(ctx, env.Client, nc)
			seen := []string{"reconcile error: " + err.Error(), "log: " + logs.String()}
			for _, c := range nc.Status.Conditions {
				seen = append(seen, "condition "+c.Type+": "+c.Message)
			}
			for _, e := range recorder.Events() {
				seen = append(seen, "event "+e.Reason+": "+e.Message)
			}
			Expect(strings.Join(seen, "\n")).To(ContainSubstring("command=listZones"), "the failure is reported")
			for _, text := range seen {
				Expect(text).NotTo(ContainSubstring(sim.APIKey()))
				Expect(text).NotTo(ContainSubstring(sim.SecretKey()))
				Expect(strings.ToLower(text)).NotTo(ContainSubstring("signature="))
				Expect(strings.ToLower(text)).NotTo(ContainSubstring("apikey="))
			}
		})
	})
})

// encodedLen is the size of userData as sent, for messages that quote it.
func encodedLen(userData string) int {
	enc, err := bootstrap.Encode([]byte(userData), 0)
	if err != nil {
		panic(err)
	}
	return len(enc)
}

// incompressible returns a shell comment of n bytes that gzip cannot shrink, to exercise the size limit.
func incompressible(n int) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n#")
	x := uint32(2463534242)
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		// The base64 alphabet: no '{', so the input is never taken for a template.
		b.WriteByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[x%64])
	}
	return b.String()
}
