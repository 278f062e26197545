import Foundation
import PackagePlugin

/// Compiles every `bpf/*.bpf.c` with the toolchain's clang (CO-RE, BTF) and embeds each
/// object in the target as a base64 string literal, so binaries carry their BPF programs.
/// A target named `VigilBPFTestObjects` gets `bpf/tests/*.bpf.c` instead.
@main
struct BPFCompilerPlugin: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let bpfDirectory = context.package.directoryURL.appending(path: "bpf")
    let files = try FileManager.default.subpathsOfDirectory(atPath: bpfDirectory.path)
    let inputs = files.filter { $0.hasSuffix(".c") || $0.hasSuffix(".h") }
      .map { bpfDirectory.appending(path: $0) }
    let clang = try context.tool(named: "clang").url

    let isTestObjects = target.name == "VigilBPFTestObjects"
    let sourceDirectory = isTestObjects ? "tests/" : ""
    let typeName = isTestObjects ? "TestBPFObjects" : "EmbeddedBPF"
    let sources = files.filter {
      $0.hasPrefix(sourceDirectory) && $0.hasSuffix(".bpf.c")
        && !$0.dropFirst(sourceDirectory.count).contains("/")
    }
    return sources.sorted().map { file in
      let name = String(file.dropFirst(sourceDirectory.count).dropLast(".bpf.c".count))
      let object = context.pluginWorkDirectoryURL.appending(path: "\(name).bpf.o")
      let output = context.pluginWorkDirectoryURL.appending(path: "Embedded_\(name).swift")
      let symbol = name.replacingOccurrences(of: "-", with: "_")
      // $1 clang, $2 source, $3 object, $4 swift output, $5 include dir, $6 lib dir, $7 symbol, $8 type
      let script = """
        set -e
        "$1" -target bpf -O2 -g -D__TARGET_ARCH_x86 -Wall -Werror \
          -I"$5" -I"$6" -I/usr/include/x86_64-linux-gnu -c "$2" -o "$3"
        { printf '// Generated from bpf/%s.bpf.c. Do not edit.\\n' "$7"
          printf 'extension %s {\\n  static let %sBase64 = "' "$8" "$7"
          base64 -w0 "$3"
          printf '"\\n}\\n'
        } > "$4"
        """
      return .buildCommand(
        displayName: "Compiling BPF \(file)",
        executable: URL(filePath: "/bin/sh"),
        arguments: [
          "-c", script, "sh", clang.path, bpfDirectory.appending(path: file).path, object.path,
          output.path, bpfDirectory.appending(path: "include").path,
          bpfDirectory.appending(path: "lib").path, symbol, typeName,
        ],
        inputFiles: inputs + [clang],
        outputFiles: [output]
      )
    }
  }
}
