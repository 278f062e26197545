import Policy
import Testing

/// The message of parsing `yaml` as `web.yaml`, or nil when it parses.
private func policyError(_ yaml: String) -> String? {
  do {
    _ = try PolicyDocument.parse(yaml: yaml, source: "web.yaml")
    return nil
  } catch {
    return error.description
  }
}

/// A document named `web` with `spec` lines (indented by two spaces) after its endpoint.
private func document(_ spec: String, endpoint: String = "{interface: eth0}") -> String {
  """
  apiVersion: vigil/v1
  kind: NetworkPolicy
  metadata: {name: web}
  spec:
    endpoint: \(endpoint)
  \(spec.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n"))
  """
}

@Suite struct PolicyValidationTests {
  @Test(arguments: [
    (
      "ingress: [{ports: [{port: 8000, endPort: 7000}]}]",
      "spec.ingress[0].ports[0].endPort: 7000 is less than port 8000"
    ),
    ("ingress: [{ports: [{endPort: 7000}]}]", "spec.ingress[0].ports[0].endPort: 7000 needs port"),
    ("ingress: [{ports: [{port: 0}]}]", "spec.ingress[0].ports[0].port: 0 is not a port (1-65535)"),
    (
      "ingress: [{ports: [{port: 65536}]}]",
      "spec.ingress[0].ports[0].port: 65536 is not a port (1-65535)"
    ),
    (
      "ingress: [{ports: [{port: http}]}]",
      "spec.ingress[0].ports[0].port: http is not a port (1-65535)"
    ),
    (
      "ingress: [{ports: [{protocol: ICMP, port: 8}]}]",
      "spec.ingress[0].ports[0].port: 8 is not allowed with protocol ICMP (it has no ports)"
    ),
    (
      "egressDeny: [{ports: [{protocol: ICMPv6, endPort: 8}]}]",
      "spec.egressDeny[0].ports[0].endPort: 8 is not allowed with protocol ICMPv6 (it has no ports)"
    ),
    (
      "ingress: [{ports: [{protocol: GRE}]}]",
      "spec.ingress[0].ports[0].protocol: GRE is not a protocol (TCP, UDP, SCTP, ICMP, ICMPv6)"
    ),
    (
      "ingress: [{ports: [{protocol: TCP, prot: 80}]}]",
      "spec.ingress[0].ports[0].prot: is not a known key (expected one of: protocol, port, endPort)"
    ),
    (
      "ingress: [{from: [{ipBlock: {cidr: 10.0.0.1/8}}]}]",
      "spec.ingress[0].from[0].ipBlock.cidr: 10.0.0.1/8 has host bits set (did you mean 10.0.0.0/8?)"
    ),
    (
      "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/40}}]}]",
      "spec.ingress[0].from[0].ipBlock.cidr: 10.0.0.0/40 has a prefix longer than 32"
    ),
    (
      "egress: [{to: [{ipBlock: {cidr: 2001:db8::/33x}}]}]",
      "spec.egress[0].to[0].ipBlock.cidr: 2001:db8::/33x has an invalid prefix length"
    ),
    (
      "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0.0/8}}]}]",
      "spec.ingress[0].from[0].ipBlock.cidr: 10.0.0.0.0/8 is not a CIDR block (address/length)"
    ),
    (
      "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}}]}]",
      "spec.ingress[0].from[0].ipBlock.except[0]: 192.168.0.0/16 is not strictly inside cidr 10.0.0.0/8"
    ),
    (
      "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]",
      "spec.ingress[0].from[0].ipBlock.except[0]: 10.0.0.0/8 is not strictly inside cidr 10.0.0.0/8"
    ),
    (
      "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [\"2001:db8::/32\"]}}]}]",
      "spec.ingress[0].from[0].ipBlock.except[0]: 2001:db8::/32 is IPv6 but cidr 10.0.0.0/8 is IPv4"
    ),
    (
      "ingress: [{from: [{ipBlock: {except: [10.0.0.0/8]}}]}]",
      "spec.ingress[0].from[0].ipBlock.cidr: is required"
    ),
    (
      "ingress: [{from: [{podSelector: {}}]}]",
      "spec.ingress[0].from[0].podSelector: is not a known key (expected one of: ipBlock)"
    ),
    (
      "ingress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]",
      "spec.ingress[0].to: is not a known key (expected one of: from, ports)"
    ),
    (
      "policyTypes: [Ingress, Both]",
      "spec.policyTypes[1]: Both is not a policy type (Ingress or Egress)"
    ),
    ("policyTypes: [Egress, Egress]", "spec.policyTypes[1]: Egress is listed twice"),
    (
      "policyTypes: [Ingress]\negress: [{}]",
      "spec.egress: has rules but spec.policyTypes does not list Egress, so they would never apply"
    ),
    ("mode: block", "spec.mode: block is not a mode (enforce or audit)"),
    (
      "podSelector: {}",
      "spec.podSelector: is not a known key (expected one of: endpoint, mode, policyTypes, ingress, "
        + "egress, ingressDeny, egressDeny)"
    ),
    ("ingress: {from: []}", "spec.ingress: must be a list, not a mapping"),
  ])
  func specErrors(spec: String, message: String) {
    #expect(policyError(document(spec)) == "web.yaml: policy \"web\": " + message)
  }

  @Test(arguments: [
    (
      "{interface: eth0, cgroup: /sys/fs/cgroup/a}",
      "spec.endpoint: sets both interface and cgroup (choose one)"
    ),
    ("{netns: web}", "spec.endpoint: needs interface or cgroup"),
    ("{}", "spec.endpoint: needs interface or cgroup"),
    ("{cgroup: web.slice}", "spec.endpoint.cgroup: web.slice is not an absolute path"),
    ("{interface: \"\"}", "spec.endpoint.interface: must not be empty"),
    ("{interface: }", "spec.endpoint.interface: needs a value"),
    (
      "{interface: a-very-long-interface}",
      "spec.endpoint.interface: a-very-long-interface is not an interface name (at most 15 "
        + "characters, no '/' or spaces)"
    ),
    (
      "{interface: eth0, netns: a/b}",
      "spec.endpoint.netns: a/b is neither a name under /var/run/netns nor an absolute path"
    ),
    (
      "{cgroup: /sys/fs/cgroup/a, netns: web}",
      "spec.endpoint.netns: only applies to an interface endpoint"
    ),
  ])
  func endpointErrors(endpoint: String, message: String) {
    #expect(policyError(document("", endpoint: endpoint)) == "web.yaml: policy \"web\": " + message)
  }

  @Test func acceptsGoodEndpoints() {
    for endpoint in [
      "{interface: eth0, netns: /proc/1/ns/net}", "{interface: veth1234, netns: web}",
      "{cgroup: /sys/fs/cgroup/unified/web.slice}",
    ] {
      #expect(policyError(document("", endpoint: endpoint)) == nil, "\(endpoint)")
    }
  }

  @Test func documentErrors() {
    let body = "spec: {endpoint: {interface: eth0}}"
    #expect(
      policyError("apiVersion: vigil/v2\nkind: NetworkPolicy\nmetadata: {name: web}\n" + body)
        == "web.yaml: policy \"web\": apiVersion: vigil/v2 is not supported (expected vigil/v1)")
    #expect(
      policyError("kind: NetworkPolicy\nmetadata: {name: web}\n" + body)
        == "web.yaml: policy \"web\": apiVersion: is required (vigil/v1)")
    #expect(
      policyError("apiVersion: vigil/v1\nkind: Pod\nmetadata: {name: web}\n" + body)
        == "web.yaml: policy \"web\": kind: Pod is not supported (expected NetworkPolicy)")
    #expect(
      policyError("apiVersion: vigil/v1\nkind: NetworkPolicy\nmetadata: {}\n" + body)
        == "web.yaml: document 1: metadata.name: is required")
    #expect(
      policyError("apiVersion: vigil/v1\nkind: NetworkPolicy\n" + body)
        == "web.yaml: document 1: metadata: is required")
    #expect(
      policyError("apiVersion: vigil/v1\nkind: NetworkPolicy\nmetadata: {name: web}\n")
        == "web.yaml: policy \"web\": spec: is required")
    #expect(
      policyError("apiVersion: vigil/v1\nkind: NetworkPolicy\nmetadata: {name: \"we b\"}\n" + body)
        == "web.yaml: policy \"we b\": metadata.name: we b is not a valid name (up to 253 letters, "
        + "digits, '-', '_' and '.', starting with a letter or digit)")
    #expect(
      policyError(
        "apiVersion: vigil/v1\nkind: NetworkPolicy\nmetadata: {name: web, labels: {}}\n" + body)
        == "web.yaml: policy \"web\": metadata.labels: is not a known key (expected one of: name)")
    #expect(
      policyError("- a\n- b\n")
        == "web.yaml: document 1: must be a mapping, not a list")
  }

  @Test func malformedYAMLNamesLineAndColumn() throws {
    let message = try #require(policyError(document("ingress: [{from: [}]")))
    #expect(message.hasPrefix("web.yaml:6:"), "\(message)")
    #expect(message.contains("malformed YAML"))
    let tabbed = try #require(policyError("apiVersion: vigil/v1\nkind: [\n"))
    #expect(tabbed.hasPrefix("web.yaml:3:"), "\(tabbed)")
  }

  @Test func namesAreUniqueAndEndpointsShareAMode() {
    let web = document("")
    #expect(
      policyError(web + "\n---\n" + web)
        == "web.yaml: policy \"web\": metadata.name: web is also the name of document 1 of web.yaml"
    )
    let audit = web.replacingOccurrences(of: "name: web", with: "name: api") + "\n  mode: audit"
    #expect(
      policyError(web + "\n---\n" + audit)
        == "web.yaml: policy \"api\": spec.mode: audit differs from mode enforce of policy \"web\" "
        + "(document 1 of web.yaml) for endpoint eth0; all policies of an endpoint share one mode")
    let otherEndpoint = audit.replacingOccurrences(of: "eth0", with: "eth1")
    #expect(policyError(web + "\n---\n" + otherEndpoint) == nil)
  }

  @Test func validatesConstructedDocuments() {
    let document = PolicyDocument(
      name: "web", endpoint: .interface(name: "eth0", netns: nil),
      ingress: [PolicyRule(ports: [PortSpec(.udp, port: 9, endPort: 3)])])
    #expect(
      performing: { try document.validate() },
      throws: {
        "\($0)" == "policy \"web\": spec.ingress[0].ports[0].endPort: 3 is less than port 9"
      })
  }

  /// Long rule lists are read in parts by several threads; an error still names its rule, the
  /// first one wrong, whichever part it is in.
  @Test(arguments: [0, 1_500, 2_999])
  func namesTheFirstBadRuleOfALongList(bad: Int) {
    let rule = "  - {from: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 80}]}"
    var rules = Array(repeating: rule, count: 3_000)
    rules[bad] = "  - {ports: [{port: http}]}"
    rules[2_999] = rules[2_999].replacingOccurrences(of: "port: 80", with: "port: 70000")
    let yaml = document("policyTypes: [Ingress]\ningress:\n" + rules.joined(separator: "\n"))
    #expect(
      policyError(yaml)
        == "web.yaml: policy \"web\": spec.ingress[\(bad)].ports[0].port: http is not a port (1-65535)"
    )
  }
}
