import BPFCore

/// Removes vigild's pins, so its programs detach once no process holds them.
public enum Uninstaller {
  /// Removes everything pinned under `pinPath`.
  public static func run(pinPath: String) throws {
    guard BPFPin.exists(pinPath) else { return }
    BPFPin.removeTree(pinPath)
    if BPFPin.exists(pinPath) { throw AgentError("could not remove \(pinPath)") }
  }
}
