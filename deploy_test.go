package main

import (
	"bytes"
	"errors"
	"io"
	"os"
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
