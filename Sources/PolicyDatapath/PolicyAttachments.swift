import BPFCore
import CVigilABI
import Glibc

/// Where a policy endpoint is: an interface of a network namespace, or a cgroup v2 directory.
public enum EndpointLocation: Hashable, Sendable, CustomStringConvertible {
  /// `netns` is a namespace file (e.g. `/var/run/netns/web`); nil for the daemon's own.
  case interface(name: String, netns: String?)
  case cgroup(path: String)

  public var description: String {
    switch self {
    case .interface(let name, nil): "interface \(name)"
    case .interface(let name, let netns?): "interface \(name) in \(netns)"
    case .cgroup(let path): "cgroup \(path)"
    }
  }
}

/// An attached endpoint as the kernel knows it: the key the classifier looks it up by.
public enum EndpointBinding: Hashable, Sendable, CustomStringConvertible {
  case interface(netnsCookie: UInt64, ifindex: UInt32)
  /// A cgroup's id (its directory's inode number).
  case cgroup(id: UInt64)

  /// The stem of the binding's link pins.
  var pinStem: String {
    switch self {
    case .interface(let cookie, let ifindex): "if_\(cookie)_\(ifindex)"
    case .cgroup(let id): "cg_\(id)"
    }
  }

  /// The binding a link pin's name stands for.
  init?(pinName: String) {
    let parts = pinName.split(separator: "_")
    switch (parts.first, parts.count) {
    case ("if", 4):
      guard let cookie = UInt64(parts[1]), let ifindex = UInt32(parts[2]) else { return nil }
      self = .interface(netnsCookie: cookie, ifindex: ifindex)
    case ("cg", 3):
      guard let id = UInt64(parts[1]) else { return nil }
      self = .cgroup(id: id)
    default: return nil
    }
  }

  public var description: String {
    switch self {
    case .interface(let cookie, let ifindex): "ifindex \(ifindex) of netns cookie \(cookie)"
    case .cgroup(let id): "cgroup id \(id)"
    }
  }
}

/// Attaching the classifier to endpoints: tcx links (ingress and egress) for interfaces,
/// cgroup_skb links for cgroups. Links are pinned under `<pinDirectory>/links`, and the pin is
/// their only owner: they keep enforcing while the daemon is down, and a restarted daemon finds
/// them instead of attaching twice.
extension PolicyDatapath {
  /// The result of `attach`.
  public struct Attachment: Sendable {
    public var binding: EndpointBinding
    /// True when both links were already there (pinned by an earlier run).
    public var adopted: Bool
  }

  private var linkDirectory: String {
    get throws(BPFError) {
      guard let pinDirectory else {
        throw BPFError(
          function: "PolicyDatapath.attach", context: "an unpinned datapath has no links",
          errno: EINVAL)
      }
      return "\(pinDirectory)/links"
    }
  }

  /// Attaches the classifier to `location` as endpoint `id`, or re-adopts the pinned links
  /// already there (swapping in this build's program when it differs).
  public func attach(_ location: EndpointLocation, id: UInt32) throws -> Attachment {
    let directory = try linkDirectory
    try BPFPin.makeDirectory(directory)
    switch location {
    case .interface(let name, let netns):
      let ingress = try program("vigil_tc_ingress")
      let egress = try program("vigil_tc_egress")
      // ifindex means something only inside its namespace: attach from there.
      let (binding, adopted) = try NetworkNamespace.run(in: netns) {
        let ifindex = try NetworkNamespace.interfaceIndex(name)
        let binding = EndpointBinding.interface(
          netnsCookie: try NetworkNamespace.currentCookie(), ifindex: ifindex)
        let adopted = try Self.link(
          ingress, to: Int32(ifindex), .tcxIngress, pin: "\(directory)/\(binding.pinStem)_in")
        let adoptedEgress = try Self.link(
          egress, to: Int32(ifindex), .tcxEgress, pin: "\(directory)/\(binding.pinStem)_eg")
        return (binding, adopted && adoptedEgress)
      }
      guard case .interface(let cookie, let ifindex) = binding else { preconditionFailure() }
      try interfaces.update(
        vigil_interface_key(netns_cookie: cookie, ifindex: ifindex, _pad: 0), id)
      return Attachment(binding: binding, adopted: adopted)
    case .cgroup(let path):
      let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
      guard fd >= 0 else {
        throw BPFError(function: "open", context: "cgroup directory \(path)", errno: errno)
      }
      let directoryFD = OwnedFD(taking: fd)
      var status = stat()
      guard fstat(directoryFD.rawValue, &status) == 0 else {
        throw BPFError(function: "fstat", context: "cgroup directory \(path)", errno: errno)
      }
      let binding = EndpointBinding.cgroup(id: UInt64(status.st_ino))
      let adopted = try Self.link(
        program("vigil_cg_ingress"), to: directoryFD.rawValue, .cgroupIngress,
        pin: "\(directory)/\(binding.pinStem)_in")
      let adoptedEgress = try Self.link(
        program("vigil_cg_egress"), to: directoryFD.rawValue, .cgroupEgress,
        pin: "\(directory)/\(binding.pinStem)_eg")
      try cgroups.update(UInt64(status.st_ino), id)
      return Attachment(binding: binding, adopted: adopted && adoptedEgress)
    }
  }

  /// Makes sure a link of `program` is pinned at `pin`; true when it already was.
  private static func link(
    _ program: BPFProgram, to target: Int32, _ type: BPFAttachType, pin: String
  ) throws(BPFError) -> Bool {
    if BPFPin.exists(pin) {
      let pinned = try BPFLink(pinnedAt: pin)
      let info = try pinned.info()
      if info.ifindex != 0 {
        if try BPFProgramInfo(id: info.programID).tag != program.info().tag {
          try pinned.update(program: program)
        }
        return true
      }
      // The device went away (and perhaps came back with the same index): start over.
      BPFPin.remove(pin)
    }
    let link = try BPFLink(program: program, target: target, attachType: type)
    try link.pin(at: pin)
    return false
  }

  /// Detaches the classifier from `binding` and forgets its endpoint id.
  public func detach(_ binding: EndpointBinding) throws(BPFError) {
    let directory = try linkDirectory
    BPFPin.remove("\(directory)/\(binding.pinStem)_in")
    BPFPin.remove("\(directory)/\(binding.pinStem)_eg")
    switch binding {
    case .interface(let cookie, let ifindex):
      try interfaces.delete(vigil_interface_key(netns_cookie: cookie, ifindex: ifindex, _pad: 0))
    case .cgroup(let id):
      try cgroups.delete(id)
    }
  }

  /// Every binding with a pinned link.
  public func attachedBindings() throws(BPFError) -> Set<EndpointBinding> {
    Set(BPFPin.list(try linkDirectory).compactMap(EndpointBinding.init(pinName:)))
  }

  /// Detaches interfaces whose device is gone (their tcx links report ifindex 0) and returns
  /// them.
  public func removeDeadLinks() throws(BPFError) -> [EndpointBinding] {
    var dead: [EndpointBinding] = []
    let directory = try linkDirectory
    for binding in try attachedBindings() {
      guard case .interface = binding else { continue }
      let pin = "\(directory)/\(binding.pinStem)_in"
      let ifindex = BPFPin.exists(pin) ? try BPFLink(pinnedAt: pin).info().ifindex : nil
      if (ifindex ?? 0) == 0 {
        try detach(binding)
        dead.append(binding)
      }
    }
    return dead
  }
}
