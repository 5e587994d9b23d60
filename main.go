// Command unico-reconcile re-reads saved Unico identity-verification
// processes from the API, compares them with the outcomes stored locally and
// writes discrepancy reports. See README.md and ../shared/contract.md.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// Set by make build with -ldflags; see version().
var (
	version = ""
	commit  = ""
)

func main() {
	// The job's live heap is small and flat (the ids seen are on disk,
	// package dedup): the collector's default pace, a collection each time
	// the heap doubles, keeps it well under 100 MB at any size, where 50%
	// collected three times as often for little memory. GOGC still wins
	// when set.
	// The first SIGINT or SIGTERM stops the run gracefully (reports are
	// still written); once it has been seen, the default handling is back,
	// so a second one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run builds the app, runs it and decides the exit code, in one place.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var code int
	app := newApp(stdout, stderr, &code)
	if err := app.RunContext(ctx, args); err != nil {
		fmt.Fprintf(stderr, "unico-reconcile: %v\n", err)
		return reconcile.ExitFatal
	}
	return code
}

func newApp(stdout, stderr io.Writer, code *int) *cli.App {
	app := &cli.App{
		Name:      "unico-reconcile",
		Usage:     "re-read saved Unico processes and report what differs",
		Version:   versionString(),
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     globalFlags(),
		Commands: []*cli.Command{
			runCommand(code),
			runsCommand(),
			reportCommand(),
			checkCommand(code),
			verifyCommand(code),
			mergeCommand(code),
			repairCommand(code),
			simulateCommand(),
			demoCommand(code),
			{
				Name:  "version",
				Usage: "print version, commit and Go version",
				Action: func(c *cli.Context) error {
					_, err := fmt.Fprintln(c.App.Writer, versionString())
					return err
				},
			},
		},
		// The default handler calls os.Exit inside Run and would skip the
		// deferred report writes: exit codes are decided in run instead.
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError:    usageError,
		HideHelpCommand: true,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(c.App.ErrWriter, "unico-reconcile: no command %q (see --help)\n", name)
			*code = reconcile.ExitFatal
		},
	}
	setUp(app.Commands)
	return app
}

// globalFlags are the flags every command takes, before its name as well as
// after it ("unico-reconcile run --log-level debug" as people type it).
// Each call makes new flags: a command's flag set has its own.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Usage: "text or json (default: text on a terminal, json otherwise)"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
	}
}

// setUp gives every command, at any depth, the global flags and the
// one-line usage error.
func setUp(cmds []*cli.Command) {
	for _, cmd := range cmds {
		cmd.OnUsageError = usageError
		cmd.Flags = append(cmd.Flags, globalFlags()...)
		setUp(cmd.Subcommands)
	}
}

// globalString is the value of a global flag where it was given nearest the
// command (after it wins over before it), or its default.
func globalString(c *cli.Context, name string) string {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet(name) {
			return ctx.String(name)
		}
	}
	return c.String(name)
}

// usageError keeps a bad flag to one line on stderr: stdout carries only
// the summary, so no help text is printed there.
func usageError(_ *cli.Context, err error, _ bool) error {
	return fmt.Errorf("%w (see --help)", err)
}

// newLogger builds the logger the global flags ask for, on stderr.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	w := c.App.ErrWriter
	var level slog.Level
	if lv := globalString(c, "log-level"); level.UnmarshalText([]byte(lv)) != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", lv)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format := globalString(c, "log-format"); format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

// isTerminal reports whether w is a terminal. A character device is not
// enough (/dev/null is one): the terminal's own ioctl must answer.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// versionString is the version, the commit and the Go version.
func versionString() string {
	v, c := appVersion(), commit
	if bi, ok := debug.ReadBuildInfo(); ok && c == "" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				c = s.Value[:7]
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("%s (commit %s, %s)", v, c, runtime.Version())
}

// appVersion is the version set at build time, or what the Go toolchain
// recorded in the binary, or "dev".
func appVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	if v == "" {
		v = "dev"
	}
	return v
}
