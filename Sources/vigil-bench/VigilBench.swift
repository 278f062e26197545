import Foundation

/// vigil-bench: what vigild costs a context-switch ping-pong, against no tracer and
/// libbpf-tools offcputime; vigild's throughput, CPU, losses and memory.
@main
enum VigilBench {
  static let pinPath = "/sys/fs/bpf/vigil-bench"

  static func main() {
    let arguments = Array(CommandLine.arguments.dropFirst())
    let options: BenchOptions
    do {
      guard let parsed = try BenchOptions.parse(arguments) else {
        print(BenchOptions.usage)
        return
      }
      options = parsed
    } catch {
      fail("\(error)", status: 2)
    }

    let cleanup = Cleanup.shared
    cleanup.installSignalHandlers()
    do {
      let binaries = try checkEnvironment(options)
      let workDirectory = try makeWorkDirectory()
      cleanup.atCleanup {
        VigilDaemon.uninstall(binary: binaries.vigild, pinPath: pinPath)
        try? FileManager.default.removeItem(atPath: workDirectory)
      }
      // A run killed earlier may have left its pins attached.
      VigilDaemon.uninstall(binary: binaries.vigild, pinPath: pinPath)

      let command = (["vigil-bench"] + arguments).joined(separator: " ")
      let benchmark = Benchmark(
        options: options, binaries: binaries, workDirectory: workDirectory, pinPath: pinPath)
      let results = try benchmark.run(command: command)
      cleanup.run()
      if options.json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(results), as: UTF8.self))
      } else {
        print(Report(results: results).render(), terminator: "")
      }
    } catch {
      cleanup.run()
      fail("\(error)", status: 1)
    }
  }

  private static func checkEnvironment(_ options: BenchOptions) throws -> Binaries {
    guard geteuid() == 0 else { throw BenchError("vigil-bench loads BPF programs: run it as root") }
    let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
    guard
      mounts.split(separator: "\n").contains(where: {
        $0.split(separator: " ").dropFirst().prefix(2) == ["/sys/fs/bpf", "bpf"]
      })
    else {
      throw BenchError("bpffs is not mounted at /sys/fs/bpf: mount -t bpf bpf /sys/fs/bpf")
    }
    return try Binaries.locate(offcputime: options.offcputime)
  }

  private static func makeWorkDirectory() throws -> String {
    var template = Array("/tmp/vigil-bench.XXXXXX".utf8CString)
    guard let path = mkdtemp(&template) else {
      throw BenchError.system("mkdtemp /tmp/vigil-bench.XXXXXX")
    }
    return String(cString: path)
  }

  private static func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data("vigil-bench: \(message)\n".utf8))
    exit(status)
  }
}
