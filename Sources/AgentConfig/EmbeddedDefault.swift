extension AgentConfiguration {
  /// The configuration compiled into `vigild`, used when no configuration file is given or found.
  ///
  /// It watches common node daemons by executable name; names absent on a node match nothing, so it
  /// works unchanged on any node. Every other value is the built-in default.
  public static let embeddedDefault = """
    # vigild embedded default configuration.
    # Used when no configuration file is given; `vigild --config FILE` replaces it entirely.
    # Keys left out of a file take the values shown here. Unknown keys are errors.

    socket:
      # Unix socket of the control API, used by the `vigil` CLI and served /metrics.
      path: /run/vigil/vigil.sock
      # Octal permission bits of the socket file.
      mode: "0660"
      # Group whose members may use the CLI without root; when the group does not exist
      # on the node, the socket keeps root's group.
      group: vigil

    bpf:
      # bpffs directory where maps and links are pinned.
      pinPath: /sys/fs/bpf/vigil
      # Event ring buffer: a power of two, at least one page.
      ringBufferBytes: 2MiB
      # Pending event bytes that wake the daemon; below ringBufferBytes.
      wakeupBatchBytes: 256KiB

    blocking:
      # Shortest off-CPU episode recorded (units: ns, us, ms, s).
      offcpuThreshold: 10ms
      # Shortest futex wait recorded.
      futexThreshold: 10ms
      # Frames per stack, 1 through 32.
      stackDepth: 32
      # Sleep states recorded: interruptible (S) and uninterruptible (D).
      states: [interruptible, uninterruptible]

    # Processes watched from startup; more can be added at run time with the CLI.
    # Forms: `- pid: 1234`, `- executable: nginx` or `/usr/sbin/nginx`,
    # `- cgroup: /sys/fs/cgroup/web.slice`.
    # A bare executable name matches the file name of the executable or the process's comm.
    targets:
      - executable: containerd
      - executable: kubelet
      - executable: dockerd
      - executable: sshd
      - executable: systemd-journald

    output:
      # stdout, none, or an absolute file path to append to.
      events: stdout
      # One JSON object per line.
      format: json

    metrics:
      # TCP host:port for Prometheus; null serves /metrics on the control socket only.
      listen: null

    symbolization:
      # ELF files whose symbol tables stay parsed.
      cacheFiles: 64
      # Processes whose memory maps stay cached.
      cacheProcesses: 256

    policy:
      # Where applied network policies are stored; the last one is restored at boot.
      stateDirectory: /var/lib/vigil/policy
      # Per generation: address blocks, rule and default counters (48 bytes of kernel memory
      # each per CPU), endpoints (at most 1024). A policy that does not fit is refused whole.
      # Flows: allowed flows remembered so their replies pass (128 bytes each).
      capacity:
        entries: 262144
        counters: 16384
        endpoints: 1024
        flows: 65536

    goroutines:
      # Watch every Go process on the node, read from outside (no code change, no restart).
      discover: true
      # Time between two snapshots of one process.
      interval: 10s
      # Goroutines parked this long on a channel, select, sync.Cond, mutex or nil channel,
      # in a group that grew within growthWindow, are reported as leaks.
      parkedThreshold: 60s
      growthWindow: 600s
      # Go processes watched at once.
      maxProcesses: 64
    """
}
