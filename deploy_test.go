package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

// flagNames lists the names of a command's flags.
func flagNames(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		names = append(names, f.Names()...)
	}
	return names
}

// checkArgs fails for an argument "--x" that is not a flag of the command.
func checkArgs(t *testing.T, where string, args []string, flags []cli.Flag) {
	t.Helper()
	known := flagNames(flags)
	for _, a := range args {
		name, ok := strings.CutPrefix(a, "--")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if !slices.Contains(known, name) {
			t.Errorf("%s: --%s is not a flag of the command", where, name)
		}
	}
}

// TestDeploy_Kubernetes parses deploy/kubernetes/cronjob.yaml and checks
// what README promises of it: an Indexed CronJob of four shards, never two
// at once, credentials from a Secret, resource limits, and flags that exist.
func TestDeploy_Kubernetes(t *testing.T) {
	b, err := os.ReadFile("deploy/kubernetes/cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Args []string `yaml:"args"`
		Env  []struct {
			ValueFrom struct {
				SecretKeyRef struct{ Name string } `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
	}
	type doc struct {
		Kind     string `yaml:"kind"`
		Metadata struct{ Name string }
		Spec     struct {
			ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
			JobTemplate       struct {
				Spec struct {
					CompletionMode string `yaml:"completionMode"`
					Completions    int    `yaml:"completions"`
					Parallelism    int    `yaml:"parallelism"`
					Template       struct {
						Spec struct {
							Containers []container `yaml:"containers"`
							Volumes    []struct {
								Secret *struct {
									SecretName string `yaml:"secretName"`
								} `yaml:"secret"`
							} `yaml:"volumes"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	var docs []doc
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d doc
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("cronjob.yaml does not parse: %v", err)
		}
		docs = append(docs, d)
	}
	kinds := map[string]int{}
	var secret string
	for _, d := range docs {
		kinds[d.Kind]++
		if d.Kind == "Secret" {
			secret = d.Metadata.Name
		}
	}
	if kinds["Secret"] != 1 || kinds["CronJob"] != 2 {
		t.Fatalf("kinds %v, want a Secret and two CronJobs (run, merge)", kinds)
	}
	for _, d := range docs {
		if d.Kind != "CronJob" {
			continue
		}
		if d.Spec.ConcurrencyPolicy != "Forbid" {
			t.Errorf("%s: concurrencyPolicy %q, want Forbid", d.Metadata.Name, d.Spec.ConcurrencyPolicy)
		}
		job := d.Spec.JobTemplate.Spec
		c := job.Template.Spec.Containers[0]
		if c.Resources.Limits["memory"] == "" || c.Resources.Requests["cpu"] == "" {
			t.Errorf("%s: resources %+v, want requests and limits", d.Metadata.Name, c.Resources)
		}
		switch c.Args[0] {
		case "run":
			if job.CompletionMode != "Indexed" || job.Completions != 4 || job.Parallelism != 4 {
				t.Errorf("run job: %s, %d completions, parallelism %d; want Indexed, 4, 4", job.CompletionMode, job.Completions, job.Parallelism)
			}
			if i := slices.Index(c.Args, "--shard"); i < 0 || c.Args[i+1] != "auto/4" {
				t.Errorf("run args %q lack --shard auto/4", c.Args)
			}
			checkArgs(t, "run", c.Args, runFlags())
			mounted := false
			for _, v := range job.Template.Spec.Volumes {
				mounted = mounted || (v.Secret != nil && v.Secret.SecretName == secret)
			}
			fromEnv := len(c.Env) > 0 && c.Env[0].ValueFrom.SecretKeyRef.Name == secret
			if !mounted || !fromEnv {
				t.Errorf("the Secret %q is mounted %v and in the environment %v; want both", secret, mounted, fromEnv)
			}
		case "merge":
			checkArgs(t, "merge", c.Args, mergeCommand(new(int)).Flags)
		default:
			t.Errorf("container runs %q", c.Args[0])
		}
	}
}

// TestDeploy_Cron checks deploy/cron: the crontab line runs under flock -n
// with flags that exist, and the logrotate file rotates its log.
func TestDeploy_Cron(t *testing.T) {
	b, err := os.ReadFile("deploy/cron/unico-reconcile.cron")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "unico-reconcile run") && !strings.HasPrefix(l, "#") {
			line = l
		}
	}
	if !strings.Contains(line, "flock -n ") {
		t.Fatalf("crontab line %q does not run under flock -n", line)
	}
	_, cmd, _ := strings.Cut(line, "unico-reconcile run ")
	checkArgs(t, "crontab", strings.Fields(cmd), runFlags())
	lr, err := os.ReadFile("deploy/cron/unico-reconcile.logrotate")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, ">>/var/log/unico-reconcile/run.log") || !strings.HasPrefix(string(lr[strings.Index(string(lr), "/var/log"):]), "/var/log/unico-reconcile/*.log {") {
		t.Fatal("logrotate does not rotate the log the crontab line appends to")
	}
}

// TestDeploy_KubernetesImage: both CronJobs run the image make image builds
// (README, "Container image") as it must run: as a non-root user on a
// read-only root file system, with an emptyDir on /tmp.
func TestDeploy_KubernetesImage(t *testing.T) {
	b, err := os.ReadFile("deploy/kubernetes/cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type mount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	}
	type doc struct {
		Kind     string `yaml:"kind"`
		Metadata struct{ Name string }
		Spec     struct {
			JobTemplate struct {
				Spec struct {
					Template struct {
						Spec struct {
							SecurityContext struct {
								RunAsNonRoot *bool `yaml:"runAsNonRoot"`
								RunAsUser    int   `yaml:"runAsUser"`
							} `yaml:"securityContext"`
							Containers []struct {
								Image           string `yaml:"image"`
								SecurityContext struct {
									ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
									AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
								} `yaml:"securityContext"`
								VolumeMounts []mount `yaml:"volumeMounts"`
							} `yaml:"containers"`
							Volumes []struct {
								Name     string    `yaml:"name"`
								EmptyDir *struct{} `yaml:"emptyDir"`
							} `yaml:"volumes"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	repo := regexp.MustCompile(`(?m)^IMAGE_REPO\s*\?=\s*(\S+)`).FindSubmatch(makefile)
	if repo == nil {
		t.Fatal("the Makefile sets no IMAGE_REPO")
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	jobs := 0
	for {
		var d doc
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("cronjob.yaml does not parse: %v", err)
		}
		if d.Kind != "CronJob" {
			continue
		}
		jobs++
		pod := d.Spec.JobTemplate.Spec.Template.Spec
		if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser != 65532 {
			t.Errorf("%s: pod securityContext runAsNonRoot %v, runAsUser %d; want true, 65532 (the image's user)",
				d.Metadata.Name, sc.RunAsNonRoot, sc.RunAsUser)
		}
		emptyDirs := map[string]bool{}
		for _, v := range pod.Volumes {
			emptyDirs[v.Name] = v.EmptyDir != nil
		}
		for _, c := range pod.Containers {
			// registry/unico-reconcile:TAG, the name make image gives
			// with the registry in front.
			name, tag, _ := strings.Cut(path.Base(c.Image), ":")
			if name != string(repo[1]) || tag == "" || tag == "latest" || !strings.Contains(c.Image, "/") {
				t.Errorf("%s: image %q, want REGISTRY/%s:TAG", d.Metadata.Name, c.Image, repo[1])
			}
			sc := c.SecurityContext
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", d.Metadata.Name)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", d.Metadata.Name)
			}
			tmp := slices.IndexFunc(c.VolumeMounts, func(m mount) bool { return m.MountPath == "/tmp" })
			if tmp < 0 || !emptyDirs[c.VolumeMounts[tmp].Name] {
				t.Errorf("%s: no emptyDir mounted on /tmp", d.Metadata.Name)
			}
		}
	}
	if jobs != 2 {
		t.Fatalf("%d CronJobs, want 2", jobs)
	}
}

// TestDeploy_Containerfile checks what README promises of the image (CI
// builds and runs it: .ci/image-check): nothing but the static binary on
// scratch, as the user 65532, with /tmp as the working directory and the
// OCI labels.
func TestDeploy_Containerfile(t *testing.T) {
	b, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, continuation lines joined, comments dropped.
	var instr []string
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			instr = append(instr, strings.Join(strings.Fields(l), " "))
		}
	}
	var from []string
	for _, in := range instr {
		if strings.HasPrefix(in, "FROM ") {
			from = append(from, in)
		}
		if strings.HasPrefix(in, "RUN ") {
			t.Errorf("%q: a scratch image has nothing to run", in)
		}
	}
	if !slices.Equal(from, []string{"FROM scratch"}) {
		t.Errorf("FROM lines %q, want only FROM scratch (CI pulls from no registry)", from)
	}
	for _, want := range []string{
		"COPY unico-reconcile /unico-reconcile",
		"COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
		"COPY passwd group /etc/",
		"ADD tmp.tar /",
		"WORKDIR /tmp",
		"USER 65532:65532",
		`ENTRYPOINT ["/unico-reconcile"]`,
	} {
		if !slices.Contains(instr, want) {
			t.Errorf("the Containerfile lacks %q", want)
		}
	}
	all := strings.Join(instr, "\n")
	for _, label := range []string{"source", "version", "licenses"} {
		if !strings.Contains(all, "org.opencontainers.image."+label+"=") {
			t.Errorf("the Containerfile sets no org.opencontainers.image.%s label", label)
		}
	}
	passwd, err := os.ReadFile("deploy/image/passwd")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).Match(passwd) {
		t.Error("deploy/image/passwd lacks the user 65532")
	}
}
