// Command pulumi-language-python is this project's own Python language host for the Pulumi engine.
//
// The real host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) is not served by the Go
// module proxy, so the toolchain script (scripts/pulumi-toolchain.sh) builds this stand-in instead. It speaks the
// same LanguageRuntime gRPC protocol and drives Python through the same library the real host uses
// (github.com/pulumi/pulumi/sdk/v3/python/toolchain: venv resolution, pip install, package listing), and it runs
// programs with the SDK's own runner script, pulumi-language-python-exec, installed next to this binary.
//
// What it serves: Handshake, GetPluginInfo, GetRequiredPackages/GetRequiredPlugins (no packages: provider plugins
// come from PATH), Run (programs), InstallDependencies, RunPlugin (source-based plugins such as our component
// provider, and policy packs), About, GetProgramDependencies, GeneratePackage and Link (for `pulumi package add`
// into a Python program), Cancel. The other methods answer Unimplemented.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// execScript is the SDK's program runner, copied next to this binary by the toolchain script.
	execScript = "pulumi-language-python-exec"
	// bailExitCode is what the runner exits with after it has already shown the user an actionable error: the
	// engine must stop without adding a second "program exited with non-zero exit code" message.
	bailExitCode = 32
)

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	runner        string
	engineAddress string
	tracing       string

	cancel    context.CancelFunc
	cancelled context.Context
}

func main() {
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint (passed on to the program)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	runner := flag.String("use-executor", "", "program runner to use instead of the one next to this binary")
	// Accepted and ignored, as by the real host: engines before the runtime options moved into ProgramInfo (such as
	// the pkg/v3 v3.206.0 that pulumi-language-yaml v1.25.0 is built on, when it loads a source plugin's schema)
	// start the language host with each runtime option as a flag (-toolchain=pip -virtualenv=venv) and -root.
	flag.String("virtualenv", "", "[obsolete] virtual environment path to use")
	flag.String("root", "", "[obsolete] project root path to use")
	flag.String("typechecker", "", "[obsolete] typechecker to run")
	flag.String("toolchain", "pip", "[obsolete] package manager to use")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}

	if *runner == "" {
		self, err := os.Executable()
		if err != nil {
			fail("cannot locate this executable: %v", err)
		}
		*runner = filepath.Join(filepath.Dir(self), execScript)
	}
	if _, err := os.Stat(*runner); err != nil {
		fail("missing program runner %s: %v", *runner, err)
	}

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancelServe := make(chan bool)
	go func() {
		<-sigCtx.Done()
		close(cancelServe)
	}()
	if engineAddress != "" {
		// Exit when the engine goes away.
		if err := rpcutil.Healthcheck(sigCtx, engineAddress, 5*time.Minute, stop); err != nil {
			fail("cannot start the engine health check: %v", err)
		}
	}

	cancelled, cancel := context.WithCancel(context.Background())
	h := &host{runner: *runner, engineAddress: engineAddress, tracing: *tracing, cancel: cancel, cancelled: cancelled}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelServe,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fail("cannot start the language host server: %v", err)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail("language host stopped serving: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

// options reads Pulumi.yaml's runtime options (toolchain, virtualenv, typechecker) the way the real host does.
// Plugins get virtualenv "venv" by default: they never run on the ambient Python.
func options(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	raw := map[string]any{}
	if info.GetOptions() != nil {
		raw = info.GetOptions().AsMap()
	}
	str := func(key string) (string, bool, error) {
		v, ok := raw[key]
		if !ok {
			return "", false, nil
		}
		s, ok := v.(string)
		if !ok {
			return "", true, fmt.Errorf("runtime option %q must be a string, got %v (%T)", key, v, v)
		}
		return s, true, nil
	}
	venv, _, err := str("virtualenv")
	if err != nil {
		return opts, err
	}
	opts.Virtualenv = venv
	if tc, ok, err := str("toolchain"); err != nil {
		return opts, err
	} else if ok {
		switch tc {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		case "uv":
			opts.Toolchain = toolchain.Uv
		default:
			return opts, fmt.Errorf("runtime option toolchain is %q; allowed: pip, poetry, uv", tc)
		}
	}
	if tc, ok, err := str("typechecker"); err != nil {
		return opts, err
	} else if ok {
		switch tc {
		case "mypy":
			opts.Typechecker = toolchain.TypeCheckerMypy
		case "pyright":
			opts.Typechecker = toolchain.TypeCheckerPyright
		default:
			return opts, fmt.Errorf("runtime option typechecker is %q; allowed: mypy, pyright", tc)
		}
	}
	if isPlugin && opts.Virtualenv == "" && (opts.Toolchain == toolchain.Pip || opts.Toolchain == toolchain.Auto) {
		opts.Virtualenv = "venv"
	}
	return opts, nil
}

func resolve(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.PythonOptions, toolchain.Toolchain, error) {
	opts, err := options(info, isPlugin)
	if err != nil {
		return opts, nil, err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	return opts, tc, err
}

func (h *host) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

// GetRequiredPackages creates the virtualenv when it is missing (as the real host does, showing pip's output as
// ephemeral engine messages) and reports no packages: the engine then loads each provider plugin when the program
// first uses it, from PATH (the toolchain's bin).
func (h *host) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	_, tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	var stdout, stderr io.Writer = os.Stderr, os.Stderr
	if h.engineAddress != "" {
		conn, err := grpc.NewClient(h.engineAddress,
			grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
		if err != nil {
			return nil, fmt.Errorf("connecting to the engine at %s: %w", h.engineAddress, err)
		}
		defer conn.Close()
		engine := pulumirpc.NewEngineClient(conn)
		stream := rand.Int31() //nolint:gosec // a stream id, not a secret
		stdout = &engineLog{ctx, engine, stream, pulumirpc.LogSeverity_INFO}
		stderr = &engineLog{ctx, engine, stream, pulumirpc.LogSeverity_ERROR}
	}
	if err := tc.EnsureVenv(ctx, req.GetInfo().GetProgramDirectory(), false, true, stdout, stderr); err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// engineLog writes to the engine's log as ephemeral messages of one stream (the progress display shows them while
// they are current).
type engineLog struct {
	ctx      context.Context
	engine   pulumirpc.EngineClient
	stream   int32
	severity pulumirpc.LogSeverity
}

func (w *engineLog) Write(p []byte) (int, error) {
	_, err := w.engine.Log(w.ctx, &pulumirpc.LogRequest{
		Message:   strings.ToValidUTF8(string(p), "\uFFFD"),
		Ephemeral: true,
		StreamId:  w.stream,
		Severity:  w.severity,
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *host) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// runnerArgs is the command line of pulumi-language-python-exec for one Run request.
func (h *host) runnerArgs(req *pulumirpc.RunRequest) []string {
	args := []string{h.runner}
	flagIf := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flagIf("monitor", req.GetMonitorAddress())
	flagIf("engine", h.engineAddress)
	flagIf("project", req.GetProject())
	flagIf("root_directory", req.GetInfo().GetRootDirectory())
	flagIf("stack", req.GetStack())
	flagIf("pwd", req.GetPwd())
	flagIf("dry_run", strconv.FormatBool(req.GetDryRun()))
	flagIf("parallel", strconv.Itoa(int(req.GetParallel())))
	flagIf("tracing", h.tracing)
	flagIf("organization", req.GetOrganization())
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if h.engineAddress == "" {
		return nil, errors.New("no engine address: start the host with one or call Handshake before Run")
	}
	opts, tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	if err := h.typecheck(ctx, opts, tc, req.GetInfo().GetProgramDirectory()); err != nil {
		return nil, err
	}

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("cannot serialize the stack configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("cannot serialize the secret configuration keys: %w", err)
	}

	// The program stops on the Cancel RPC or when the engine abandons the request.
	runCtx, stopRun := context.WithCancel(h.cancelled)
	defer stopRun()
	context.AfterFunc(ctx, stopRun)
	cmd, err := tc.Command(runCtx, h.runnerArgs(req)...)
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	// The engine shows the host's own stdout/stderr as the program's output.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	if req.GetConfig() != nil {
		env = append(env, "PULUMI_CONFIG="+string(config))
	}
	cmd.Env = append(env, "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))

	err = cmd.Run()
	_ = os.Stdout.Sync()
	_ = os.Stderr.Sync()
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("could not run the Python program runner %s: %v", h.runner, err),
		}, nil
	}
	if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.Exited() {
		if status.ExitStatus() == bailExitCode {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("program exited with non-zero exit code: %d", status.ExitStatus()),
		}, nil
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited unexpectedly: %v", exitErr)}, nil
}

// typecheck runs mypy or pyright on the program first when Pulumi.yaml asks for it.
func (h *host) typecheck(
	ctx context.Context, opts toolchain.PythonOptions, tc toolchain.Toolchain, programDir string,
) error {
	var module string
	switch opts.Typechecker {
	case toolchain.TypeCheckerMypy:
		module = "mypy"
	case toolchain.TypeCheckerPyright:
		module = "pyright"
	default:
		return nil
	}
	args := []string{"-m", module}
	if module == "mypy" {
		venv, err := tc.VirtualEnvPath(ctx)
		if err != nil {
			return err
		}
		if rel, err := filepath.Rel(programDir, venv); err == nil {
			args = append(args, "--exclude", rel)
		}
	}
	args = append(args, programDir)
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	cmd.Dir = programDir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("typechecker %s failed on %s: %w", module, programDir, err)
	}
	return nil
}

// InstallDependencies creates the virtualenv and runs pip install -r requirements.txt (or the poetry/uv
// equivalent), streaming the output to the engine. A plugin that is a buildable package is installed itself too.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	ctx := server.Context()
	_, tc, err := resolve(req.GetInfo(), req.GetIsPlugin())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	dir := req.GetInfo().GetProgramDirectory()
	fmt.Fprintf(stdout, "Installing dependencies...\n\n")
	if req.GetIsPlugin() {
		buildable, err := toolchain.IsBuildablePackage(dir)
		if err != nil {
			return fmt.Errorf("cannot tell whether plugin %s is a Python package: %w", dir, err)
		}
		if buildable {
			if err := tc.EnsureVenv(ctx, dir, req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
				return fmt.Errorf("creating the plugin's virtualenv: %w", err)
			}
			pipInstall, err := tc.ModuleCommand(ctx, "pip", "install", dir)
			if err != nil {
				return err
			}
			pipInstall.Stdout, pipInstall.Stderr = stdout, stderr
			if err := pipInstall.Run(); err != nil {
				return fmt.Errorf("pip install %s: %w", dir, err)
			}
		}
	}
	if err := tc.InstallDependencies(ctx, dir, req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

// RunPlugin runs a source-based Python plugin: `python <plugin dir> <args>` when the directory has __main__.py,
// `python -m pulumi.run.plugin <project name> <args>` for a buildable package without one, and
// `python -u -m pulumi.policy <args> <dir>` for a policy pack. The plugin's stdout carries its port to the engine, so
// it is streamed back unchanged. A policy pack (pulumi_policy reads the stack from environment variables) is
// started behind the SDK's PolicyProxy, as the real host does: the proxy answers the engine's ConfigureStack, the
// pack then starts with PULUMI_ORGANIZATION/PROJECT/STACK/DRY_RUN/CONFIG set, and the proxy forwards every other
// analyzer call to it.
func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	ctx := server.Context()
	analyzer := req.GetKind() == string(apitype.AnalyzerPlugin)
	opts, tc, err := resolve(req.GetInfo(), !analyzer)
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	var cmd *exec.Cmd
	switch {
	case analyzer:
		args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		cmd, err = tc.Command(ctx, append(args, dir)...)
	case fileExists(filepath.Join(opts.Root, "__main__.py")) || !h.hasPluginRunner(ctx, tc):
		cmd, err = tc.Command(ctx, append([]string{dir}, req.GetArgs()...)...)
	default:
		buildable, berr := toolchain.IsBuildablePackage(opts.Root)
		if berr != nil {
			return fmt.Errorf("cannot tell whether plugin %s is a Python package: %w", opts.Root, berr)
		}
		if !buildable {
			return fmt.Errorf("plugin %s has neither __main__.py nor a buildable pyproject.toml", opts.Root)
		}
		pyproject, perr := toolchain.LoadPyproject(opts.Root)
		if perr != nil {
			return fmt.Errorf("reading %s/pyproject.toml: %w", opts.Root, perr)
		}
		args := append([]string{pyproject.Project.Name}, req.GetArgs()...)
		cmd, err = tc.ModuleCommand(ctx, "pulumi.run.plugin", args...)
	}
	if err != nil {
		return err
	}
	if analyzer {
		cmd.Dir = dir
	} else {
		cmd.Dir = req.GetPwd()
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	var proxy *sdk.PolicyProxy
	if analyzer {
		if proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout); err != nil {
			return fmt.Errorf("starting the policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("waiting for the engine's stack configuration: %w", err)
		}
		if stack != nil {
			cmd.Env = appendSet(cmd.Env, "PULUMI_ORGANIZATION", stack.GetOrganization())
			cmd.Env = appendSet(cmd.Env, "PULUMI_PROJECT", stack.GetProject())
			cmd.Env = appendSet(cmd.Env, "PULUMI_STACK", stack.GetStack())
			cmd.Env = appendSet(cmd.Env, "PULUMI_DRY_RUN", strconv.FormatBool(stack.GetDryRun()))
			if stack.GetConfig() != nil {
				config, err := json.Marshal(stack.GetConfig())
				if err != nil {
					return fmt.Errorf("serializing the stack configuration: %w", err)
				}
				cmd.Env = appendSet(cmd.Env, "PULUMI_CONFIG", string(config))
			}
		}
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if proxy != nil {
		if err := cmd.Start(); err != nil {
			proxy.Abort(err)
			return fmt.Errorf("could not start policy pack %s: %w", dir, err)
		}
		if err := proxy.Attach(ctx, cmd); err != nil {
			return fmt.Errorf("policy pack %s: %w", dir, err)
		}
		return closer.Close()
	}
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if status, ok := exitErr.Sys().(syscall.WaitStatus); ok {
				return server.Send(&pulumirpc.RunPluginResponse{
					Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(status.ExitStatus())},
				})
			}
			return fmt.Errorf("plugin %s exited unexpectedly: %w", dir, err)
		}
		return fmt.Errorf("could not run plugin %s: %w", dir, err)
	}
	return closer.Close()
}

// hasPluginRunner tells whether the plugin's Python SDK has pulumi.run.plugin (newer SDKs).
func (h *host) hasPluginRunner(ctx context.Context, tc toolchain.Toolchain) bool {
	cmd, err := tc.Command(ctx, "-c", "import pulumi.run.plugin")
	if err != nil {
		return false
	}
	return cmd.Run() == nil
}

// appendSet adds key=value to an environment unless value is empty.
func appendSet(env []string, key, value string) []string {
	if value == "" {
		return env
	}
	return append(env, key+"="+value)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	opts := toolchain.PythonOptions{Toolchain: toolchain.Pip}
	if req.GetInfo() != nil {
		var err error
		if opts, err = options(req.GetInfo(), false); err != nil {
			return nil, err
		}
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata: map[string]string{
			"toolchain":        toolchain.Name(opts.Toolchain),
			"toolchainVersion": info.ToolchainVersion.String(),
			"typechecker":      toolchain.TypeCheckerName(opts.Typechecker),
			"languageHost":     "registries stand-in (tools/pulumi/cmd/pulumi-language-python)",
		},
	}, nil
}

func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	_, tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	packages, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("listing the program's Python packages: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(packages))
	for _, p := range packages {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}
