internal import CLibBPF
import Glibc

/// Pinning BPF objects (maps, links, programs) as files in bpffs.
public enum BPFPin {
  /// Opens the object pinned at `path`.
  public static func open(_ path: String) throws(BPFError) -> OwnedFD {
    let fd = bpf_obj_get(path)
    guard fd >= 0 else {
      throw BPFError.libbpf("bpf_obj_get", "opening pinned \(path)", result: fd)
    }
    return OwnedFD(taking: fd)
  }

  /// Pins `fd` at `path`; the directory must exist on a bpffs.
  public static func pin(_ fd: OwnedFD, at path: String) throws(BPFError) {
    let result = bpf_obj_pin(fd.rawValue, path)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_obj_pin", "pinning at \(path)", result: result)
    }
  }

  /// Whether something is pinned at `path`.
  public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

  /// Removes the pin (the object lives on while other references exist).
  public static func remove(_ path: String) {
    _ = unlink(path)
  }

  /// Creates `path` and its parents (mode 0700) on bpffs.
  public static func makeDirectory(_ path: String) throws(BPFError) {
    var current = ""
    for component in path.split(separator: "/") {
      current += "/" + component
      if mkdir(current, 0o700) != 0 && errno != EEXIST {
        throw BPFError(
          function: "mkdir", context: "creating pin directory \(current)", errno: errno)
      }
    }
  }

  /// The names in pin directory `path` (not recursing); empty when it does not exist.
  public static func list(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
  }

  /// Removes a pin directory and everything pinned in it.
  public static func removeTree(_ path: String) {
    guard let dir = opendir(path) else { return }
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name == "." || name == ".." { continue }
      let child = path + "/" + name
      if entry.pointee.d_type == UInt8(DT_DIR) { removeTree(child) } else { _ = unlink(child) }
    }
    closedir(dir)
    _ = rmdir(path)
  }
}
