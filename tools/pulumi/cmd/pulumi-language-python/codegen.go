package main

// SDK generation for `pulumi package add` / `pulumi package gen-sdk --language python`: the engine hands the host a
// package schema (GeneratePackage), then asks it to add the generated SDK to the program's dependencies (Link).
// Both use Pulumi's own Python code generator from module github.com/pulumi/pulumi/pkg/v3.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

func (h *host) GeneratePackage(
	ctx context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	client, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	loader := schema.NewCachedLoader(client)

	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.GetSchema()), &spec); err != nil {
		return nil, fmt.Errorf("the package schema is not valid JSON: %w", err)
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}, nil
	}
	files, err := pygen.GeneratePackage("pulumi-language-python", pkg, req.GetExtraFiles(), loader)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(req.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}, nil
}

// Link adds each generated SDK's directory to the program's requirements (requirements.txt for pip, pyproject.toml
// for poetry and uv) and tells the user how to import it.
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	opts, err := options(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	client, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	loader := schema.NewCachedLoader(client)

	paths := map[string]string{} // Python distribution name -> SDK directory
	var imports strings.Builder
	for _, dep := range req.GetPackages() {
		name := dep.GetPackage().GetName()
		if name == "pulumi" {
			paths["pulumi"] = dep.GetPath()
			continue
		}
		desc := &schema.PackageDescriptor{Name: name, DownloadURL: dep.GetPackage().GetServer()}
		if v, err := semver.New(dep.GetPackage().GetVersion()); err == nil {
			desc.Version = v
		}
		if p := dep.GetPackage().GetParameterization(); p != nil {
			desc.Parameterization = &schema.ParameterizationDescriptor{Name: p.GetName(), Value: p.GetValue()}
			if v, err := semver.New(p.GetVersion()); err == nil {
				desc.Parameterization.Version = *v
			}
		}
		ref, err := schema.LoadPackageReferenceV2(ctx, loader, desc)
		if err != nil {
			return nil, fmt.Errorf("loading the schema of package %s: %w", name, err)
		}
		pkg, err := ref.Definition()
		if err != nil {
			return nil, err
		}
		if err := pkg.ImportLanguages(map[string]schema.Language{"python": pygen.Importer}); err != nil {
			return nil, err
		}
		distribution := pygen.PyPack(ref.Namespace(), ref.Name())
		module := strings.ReplaceAll(ref.Name(), "-", "_")
		if info, ok := pkg.Language["python"].(pygen.PackageInfo); ok && info.PackageName != "" {
			distribution, module = info.PackageName, info.PackageName
		}
		paths[distribution] = dep.GetPath()
		fmt.Fprintf(&imports, "  import %s as %s\n", distribution, module)
	}

	if opts.Toolchain != toolchain.Pip && !fileExists(filepath.Join(req.GetInfo().GetProgramDirectory(), "pyproject.toml")) {
		// poetry/uv before the first `pulumi install`: requirements.txt is still the dependency list.
		opts.Toolchain = toolchain.Pip
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	if err := tc.LinkPackages(ctx, paths); err != nil {
		return nil, fmt.Errorf("adding the SDKs to the program's dependencies: %w", err)
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your Python code with:\n\n" + imports.String(),
	}, nil
}
