internal import CLibBPF
import Glibc

/// An ELF BPF object opened from memory, then loaded into the kernel.
///
/// Owns the `bpf_object` and the buffer it was opened from (libbpf keeps a
/// pointer into it). Programs and maps taken from it keep it alive.
/// Not thread-safe: configure, load and take handles from one thread.
public final class BPFObject: @unchecked Sendable {
  let pointer: OpaquePointer
  private let buffer: UnsafeMutableRawBufferPointer
  /// The object's name, used in errors (e.g. `blocking`).
  public let name: String

  /// Opens (parses, does not load) an ELF object held in `bytes`.
  public init(bytes: [UInt8], name: String) throws(BPFError) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
    bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    var opts = bpf_object_open_opts()
    opts.sz = MemoryLayout<bpf_object_open_opts>.size
    let (result, log) = LibBPFLog.capturing { () -> OpaquePointer? in
      name.withCString { cName in
        opts.object_name = cName
        return bpf_object__open_mem(buffer.baseAddress, bytes.count, &opts)
      }
    }
    guard case .success(let pointer?) = result else {
      buffer.deallocate()
      throw BPFError.libbpf("bpf_object__open_mem", "opening BPF object \(name)", log: log)
    }
    self.pointer = pointer
    self.buffer = buffer
    self.name = name
  }

  deinit {
    bpf_object__close(pointer)
    buffer.deallocate()
  }

  /// Names of the object's programs, in ELF order.
  public var programNames: [String] {
    var names: [String] = []
    var program = bpf_object__next_program(pointer, nil)
    while let current = program {
      names.append(String(cString: bpf_program__name(current)))
      program = bpf_object__next_program(pointer, current)
    }
    return names
  }

  /// Sets a map's capacity before load (ring buffer size, table sizes).
  public func setMaxEntries(map name: String, _ count: UInt32) throws(BPFError) {
    let map = try rawMap(name)
    let result = bpf_map__set_max_entries(map, count)
    guard result == 0 else {
      throw BPFError.libbpf(
        "bpf_map__set_max_entries", "sizing map \(name) to \(count)", result: result)
    }
  }

  /// Sets a `const volatile` global (e.g. in `.rodata`) before load.
  public func setGlobal<Value: BitwiseCopyable>(
    section: String, name variable: String, value: Value
  )
    throws(BPFError)
  {
    let map = try rawMap(section)
    var size = 0
    guard let data = bpf_map__initial_value(map, &size) else {
      throw BPFError(
        function: "bpf_map__initial_value", context: "\(name): section \(section)", errno: ENOENT)
    }
    guard let offset = try globalOffset(section: section, variable: variable),
      offset + MemoryLayout<Value>.size <= size
    else {
      throw BPFError(
        function: "btf__find_by_name", context: "\(name): no global \(variable) in \(section)",
        errno: ENOENT)
    }
    UnsafeMutableRawPointer(mutating: data).storeBytes(
      of: value, toByteOffset: offset, as: Value.self)
  }

  /// The byte offset of `variable` in a data section, from the object's BTF DATASEC.
  private func globalOffset(section: String, variable: String) throws(BPFError) -> Int? {
    guard let btf = bpf_object__btf(pointer) else { return nil }
    let sectionID = btf__find_by_name(btf, section)
    guard sectionID > 0, let type = btf__type_by_id(btf, UInt32(sectionID)) else { return nil }
    let count = Int(type.pointee.info & 0xffff)
    let members = UnsafeRawPointer(type + 1).assumingMemoryBound(to: btf_var_secinfo.self)
    for index in 0..<count {
      let info = members[index]
      guard let variableType = btf__type_by_id(btf, info.type),
        let found = btf__name_by_offset(btf, variableType.pointee.name_off)
      else { continue }
      if String(cString: found) == variable { return Int(info.offset) }
    }
    return nil
  }

  /// Makes the object use an existing map (e.g. one re-opened from a pin) instead of creating it.
  /// libbpf checks that type, key, value and size agree.
  public func reuseMap(_ name: String, fd: OwnedFD) throws(BPFError) {
    let map = try rawMap(name)
    let result = bpf_map__reuse_fd(map, fd.rawValue)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_map__reuse_fd", "reusing pinned map \(name)", result: result)
    }
  }

  /// Loads every program into the kernel; a rejected program's error carries the verifier log.
  public func load() throws(BPFError) {
    let (result, log) = LibBPFLog.capturing { bpf_object__load(pointer) }
    if case .success(let code) = result, code == 0 { return }
    let code: Int32 = if case .success(let code) = result { code } else { -EINVAL }
    throw BPFError.libbpf("bpf_object__load", "loading BPF object \(name)", result: code, log: log)
  }

  /// A program of this object, by its C function name.
  public func program(_ programName: String) throws(BPFError) -> BPFProgram {
    guard let program = bpf_object__find_program_by_name(pointer, programName) else {
      throw BPFError(
        function: "bpf_object__find_program_by_name", context: "\(name): no program \(programName)",
        errno: ENOENT)
    }
    return BPFProgram(object: self, pointer: program)
  }

  /// A new owned descriptor for one of the loaded object's maps.
  public func mapFD(_ mapName: String) throws(BPFError) -> OwnedFD {
    let fd = bpf_map__fd(try rawMap(mapName))
    guard fd >= 0 else {
      throw BPFError(
        function: "bpf_map__fd", context: "\(name): map \(mapName) is not loaded", errno: -fd)
    }
    return try OwnedFD.duplicating(fd, context: "map \(mapName)")
  }

  private func rawMap(_ mapName: String) throws(BPFError) -> OpaquePointer {
    guard let map = bpf_object__find_map_by_name(pointer, mapName) else {
      throw BPFError(
        function: "bpf_object__find_map_by_name", context: "\(name): no map \(mapName)",
        errno: ENOENT)
    }
    return map
  }
}
