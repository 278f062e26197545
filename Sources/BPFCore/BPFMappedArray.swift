internal import CLibBPF
import Glibc

/// An array map (`BPF_F_MMAPABLE`) with its values mapped into this process, so they are
/// written with plain stores instead of a system call per entry. Unmapped on deinit.
public final class BPFMappedArray<Value: BitwiseCopyable>: @unchecked Sendable {
  /// The map (its descriptor has this one owner).
  public let map: BPFMap<UInt32, Value>
  /// How many values the array holds.
  public let count: Int
  private let memory: UnsafeMutableRawPointer
  private let length: Int

  /// Creates an array of `count` values (at least one); `flags` are added to `BPF_F_MMAPABLE`.
  public init(name: String, count: Int, flags: UInt32 = 0) throws(BPFError) {
    precondition(
      MemoryLayout<Value>.stride % 8 == 0, "array values are 8-byte aligned in the kernel")
    self.count = max(count, 1)
    map = try BPFMap.create(
      type: .array, name: name, maxEntries: UInt32(self.count),
      flags: flags | BPFMapFlags.mmapable)
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    length = (self.count * MemoryLayout<Value>.stride + page - 1) / page * page
    let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, map.fd.rawValue, 0)
    guard let address, address != MAP_FAILED else {
      throw BPFError(function: "mmap", context: "mapping array \(name)", errno: errno)
    }
    memory = address
  }

  /// Writes `values` from index `start` on; they must fit.
  public func write(_ values: [Value], from start: Int = 0) {
    precondition(start >= 0 && start + values.count <= count, "values past the array's end")
    values.withUnsafeBytes { bytes in
      guard let base = bytes.baseAddress else { return }
      (memory + start * MemoryLayout<Value>.stride).copyMemory(from: base, byteCount: bytes.count)
    }
  }

  deinit { munmap(memory, length) }
}
