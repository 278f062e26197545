internal import CLibBPF
import Glibc

/// The outcome of running a program on a given input (`BPF_PROG_TEST_RUN`).
public struct BPFTestRunResult: Sendable {
  /// The program's return value (e.g. a tc verdict).
  public var returnValue: UInt32
  /// Average nanoseconds per run, as the kernel measured.
  public var durationNanoseconds: UInt32
  /// The packet after the program (it may rewrite it).
  public var dataOut: [UInt8]
}

extension BPFProgram {
  /// Runs the loaded program `repetitions` times on `packet` in the kernel.
  public func testRun(packet: [UInt8], repetitions: Int = 1) throws(BPFError) -> BPFTestRunResult {
    var output = [UInt8](repeating: 0, count: packet.count + 256)
    var opts = bpf_test_run_opts()
    opts.sz = MemoryLayout<bpf_test_run_opts>.size
    opts.data_size_in = UInt32(packet.count)
    opts.data_size_out = UInt32(output.count)
    opts.repeat = Int32(repetitions)
    let result = packet.withUnsafeBytes { input in
      output.withUnsafeMutableBytes { out in
        opts.data_in = input.baseAddress
        opts.data_out = out.baseAddress
        return bpf_prog_test_run_opts(fd, &opts)
      }
    }
    guard result == 0 else {
      throw BPFError.libbpf("bpf_prog_test_run_opts", "test run of \(name)", result: result)
    }
    return BPFTestRunResult(
      returnValue: opts.retval, durationNanoseconds: opts.duration,
      dataOut: Array(output.prefix(Int(opts.data_size_out))))
  }
}

extension BPFProgram {
  /// Runs a loaded `SEC("syscall")` program once with `context` as its argument; returns the
  /// program's return value.
  public func run<Context: BitwiseCopyable>(context: Context) throws(BPFError) -> UInt32 {
    var context = context
    var opts = bpf_test_run_opts()
    opts.sz = MemoryLayout<bpf_test_run_opts>.size
    let result = withUnsafeMutableBytes(of: &context) { bytes in
      opts.ctx_in = UnsafeRawPointer(bytes.baseAddress)
      opts.ctx_size_in = UInt32(bytes.count)
      return bpf_prog_test_run_opts(fd, &opts)
    }
    guard result == 0 else {
      throw BPFError.libbpf("bpf_prog_test_run_opts", "run of \(name)", result: result)
    }
    return opts.retval
  }
}
