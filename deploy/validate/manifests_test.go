// Package validate checks the deployment examples under deploy/ offline: every
// Kubernetes manifest is decoded strictly (unknown or misspelt fields are errors) into
// the API types of k8s.io/api, the Kubernetes project's own Go types, and the Azure
// Container Apps job into the subset of the Microsoft.App/jobs resource it uses; then
// the properties the examples promise are asserted (workload identity, non-root,
// read-only root file system, the journal on the persistent volume).
//
// It is a module of its own so that apimport's go.mod does not carry the Kubernetes
// API; run it with: (cd deploy/validate && go test ./...)
package validate

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// docs splits a multi-document YAML file.
func docs(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func strict(t *testing.T, path string, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// kinds decodes every document of the Kubernetes examples into its API type.
func kinds(t *testing.T) (sas []corev1.ServiceAccount, pvcs []corev1.PersistentVolumeClaim, cjs []batchv1.CronJob) {
	t.Helper()
	files, _ := filepath.Glob("../kubernetes/*.yaml")
	if len(files) < 3 {
		t.Fatalf("manifests: %v", files)
	}
	for _, f := range files {
		for _, d := range docs(t, f) {
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal(d, &meta); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			switch meta.APIVersion + " " + meta.Kind {
			case "v1 ServiceAccount":
				var x corev1.ServiceAccount
				strict(t, f, d, &x)
				sas = append(sas, x)
			case "v1 PersistentVolumeClaim":
				var x corev1.PersistentVolumeClaim
				strict(t, f, d, &x)
				pvcs = append(pvcs, x)
			case "batch/v1 CronJob":
				var x batchv1.CronJob
				strict(t, f, d, &x)
				cjs = append(cjs, x)
			default:
				t.Fatalf("%s: unexpected %s %s (add its type here)", f, meta.APIVersion, meta.Kind)
			}
		}
	}
	return sas, pvcs, cjs
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	var cj batchv1.CronJob
	bad := []byte("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec:\n  schedul: \"* * * * *\"\n")
	if err := yaml.UnmarshalStrict(bad, &cj); err == nil {
		t.Fatal("a misspelt field was accepted")
	}
}

func TestKubernetesCronJob(t *testing.T) {
	sas, pvcs, cjs := kinds(t)
	if len(sas) != 1 || len(cjs) != 1 || len(pvcs) != 2 {
		t.Fatalf("%d service accounts, %d PVCs, %d cron jobs", len(sas), len(pvcs), len(cjs))
	}
	sa, cj := sas[0], cjs[0]
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(sa.Annotations["azure.workload.identity/client-id"]) {
		t.Errorf("service account: annotation azure.workload.identity/client-id missing or not a GUID")
	}
	if cj.Namespace != sa.Namespace {
		t.Errorf("namespaces differ: %s, %s", cj.Namespace, sa.Namespace)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy %q: runs must not overlap", cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template
	if pod.Labels["azure.workload.identity/use"] != "true" {
		t.Error(`pod label azure.workload.identity/use: "true" missing`)
	}
	if pod.Spec.ServiceAccountName != sa.Name {
		t.Errorf("serviceAccountName %q, service account %q", pod.Spec.ServiceAccountName, sa.Name)
	}
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod securityContext must run as a non-root user")
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("container securityContext: readOnlyRootFilesystem, no privilege escalation, drop ALL")
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"import", "--auth workload-identity", "--expect-tenant ", "--journal /var/lib/apimport/", "--html /var/lib/apimport/"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	if len(c.Command) > 0 && (c.Command[0] == "sh" || c.Command[0] == "/bin/sh") {
		t.Error("the image has no shell")
	}
	// The journal's folder is a volume backed by a claim that exists.
	claims := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	var journalClaim string
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/var/lib/apimport" {
			journalClaim = claims[m.Name]
			if m.ReadOnly {
				t.Error("the journal's volume is read-only")
			}
		}
	}
	found := false
	for _, p := range pvcs {
		if p.Name == journalClaim {
			found = true
			if p.Spec.Resources.Requests.Storage().Cmp(resource.MustParse("100Mi")) < 0 {
				t.Errorf("claim %s is too small", p.Name)
			}
		}
	}
	if !found {
		t.Errorf("the journal's folder is not on a PersistentVolumeClaim of the manifests (claim %q)", journalClaim)
	}
}

// acaJob is the part of the Microsoft.App/jobs resource (API 2024-03-01) that the example
// uses, with the ARM property names; decoding is strict, so a misspelt or misplaced
// property is an error. It is not the full schema.
type acaJob struct {
	Location string `json:"location"`
	Type     string `json:"type"`
	Identity struct {
		Type                   string                    `json:"type"`
		UserAssignedIdentities map[string]map[string]any `json:"userAssignedIdentities"`
	} `json:"identity"`
	Properties struct {
		EnvironmentID string `json:"environmentId"`
		Configuration struct {
			TriggerType           string `json:"triggerType"`
			ReplicaTimeout        int    `json:"replicaTimeout"`
			ReplicaRetryLimit     int    `json:"replicaRetryLimit"`
			ScheduleTriggerConfig *struct {
				CronExpression         string `json:"cronExpression"`
				Parallelism            int    `json:"parallelism"`
				ReplicaCompletionCount int    `json:"replicaCompletionCount"`
			} `json:"scheduleTriggerConfig"`
			Registries []struct {
				Server   string `json:"server"`
				Identity string `json:"identity"`
			} `json:"registries"`
		} `json:"configuration"`
		Template struct {
			Containers []struct {
				Name  string   `json:"name"`
				Image string   `json:"image"`
				Args  []string `json:"args"`
				Env   []struct {
					Name      string `json:"name"`
					Value     string `json:"value,omitempty"`
					SecretRef string `json:"secretRef,omitempty"`
				} `json:"env"`
				Resources struct {
					CPU    float64 `json:"cpu"`
					Memory string  `json:"memory"`
				} `json:"resources"`
				VolumeMounts []struct {
					VolumeName string `json:"volumeName"`
					MountPath  string `json:"mountPath"`
				} `json:"volumeMounts"`
			} `json:"containers"`
			Volumes []struct {
				Name         string `json:"name"`
				StorageType  string `json:"storageType"`
				StorageName  string `json:"storageName"`
				MountOptions string `json:"mountOptions"`
			} `json:"volumes"`
		} `json:"template"`
	} `json:"properties"`
}

func TestAzureContainerAppsJob(t *testing.T) {
	const path = "../azure-container-apps/apimport-job.yaml"
	d := docs(t, path)
	if len(d) != 1 {
		t.Fatalf("%d documents", len(d))
	}
	var job acaJob
	strict(t, path, d[0], &job)
	p := job.Properties
	if job.Type != "Microsoft.App/jobs" || p.Configuration.TriggerType != "Schedule" || p.Configuration.ScheduleTriggerConfig == nil ||
		len(strings.Fields(p.Configuration.ScheduleTriggerConfig.CronExpression)) != 5 {
		t.Errorf("not a scheduled job: %+v", p.Configuration)
	}
	if job.Identity.Type != "UserAssigned" || len(job.Identity.UserAssignedIdentities) != 1 {
		t.Errorf("identity %+v", job.Identity)
	}
	if len(p.Template.Containers) != 1 {
		t.Fatalf("%d containers", len(p.Template.Containers))
	}
	c := p.Template.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"import", "--auth managed-identity", "--expect-tenant ", "--journal /var/lib/apimport/"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	vols := map[string]string{}
	for _, v := range p.Template.Volumes {
		vols[v.Name] = v.StorageType
	}
	ok := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/var/lib/apimport" && vols[m.VolumeName] == "AzureFile" {
			ok = true
		}
	}
	if !ok {
		t.Error("the journal's folder is not on an Azure Files volume")
	}
	for _, e := range c.Env {
		if strings.Contains(strings.ToUpper(e.Name), "SECRET") && e.Value != "" {
			t.Errorf("secret %s given as a plain value", e.Name)
		}
	}
}

func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.Version=", "-X main.Commit=", "-X main.Date=", "USER 65532:65532", "distroless/static", `ENTRYPOINT ["/usr/local/bin/apimport"]`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
}
