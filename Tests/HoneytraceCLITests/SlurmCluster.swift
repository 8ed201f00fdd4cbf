import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A one-node Slurm cluster on this machine for one test: its own munged, slurmctld and slurmd
/// (as root; Debian's `slurm-wlm` and `munge`), with configuration, key, sockets, state and logs
/// under a temporary directory and ports nobody else uses, so it leaves any other cluster alone.
final class SlurmCluster {
    let directory: String
    /// What Slurm's commands need to reach this cluster.
    let environment: [String: String]
    private let daemons: Daemons

    /// A cluster whose node is idle, or why none can start here.
    static func start() -> Result<SlurmCluster, ServiceUnavailable> {
        let tools = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "scancel"]
        let missing = tools.filter { Daemons.which($0) == nil }
        guard missing.isEmpty else {
            return .failure(.init("\(missing.joined(separator: ", ")) not installed (apt-get install -y slurm-wlm munge)"))
        }
        guard getuid() == 0 else { return .failure(.init("slurmd must run as root to start jobs; this test runs as uid \(getuid())")) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-slurm-\(UUID().uuidString)").path
        do {
            let cluster = try SlurmCluster(directory: dir)
            if let problem = cluster.waitUntilIdle(seconds: 90) {
                cluster.stop()
                return .failure(.init(problem))
            }
            return .success(cluster)
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            return .failure(.init("\(error)"))
        }
    }

    private init(directory dir: String) throws {
        directory = dir
        daemons = Daemons(directory: dir)
        let fm = FileManager.default
        for sub in ["state", "spool", "munge"] { try fm.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true) }
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dir + "/munge")
        let key = dir + "/munge/munge.key"
        var generator = SystemRandomNumberGenerator()
        try Data((0..<1024).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: URL(fileURLWithPath: key))
        try fm.setAttributes([.posixPermissions: 0o400], ofItemAtPath: key)
        let socket = dir + "/munge/munge.socket"
        let ports = try Daemons.freePorts(2)
        let host = SlurmCluster.shortHostName()
        let conf = """
            ClusterName=honeytrace-test
            SlurmctldHost=\(host)
            SlurmctldPort=\(ports[0])
            SlurmdPort=\(ports[1])
            AuthType=auth/munge
            AuthInfo=socket=\(socket)
            CredType=cred/munge
            SlurmUser=root
            SlurmdUser=root
            StateSaveLocation=\(dir)/state
            SlurmdSpoolDir=\(dir)/spool
            SlurmctldPidFile=\(dir)/slurmctld.pid
            SlurmdPidFile=\(dir)/slurmd.pid
            SlurmctldLogFile=\(dir)/slurmctld.log
            SlurmdLogFile=\(dir)/slurmd.log
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            MpiDefault=none
            SwitchType=switch/none
            ReturnToService=2
            SchedulerType=sched/backfill
            NodeName=\(host) NodeAddr=127.0.0.1 CPUs=\(ProcessInfo.processInfo.activeProcessorCount) State=UNKNOWN
            PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP

            """
        try conf.write(toFile: dir + "/slurm.conf", atomically: true, encoding: .utf8)
        environment = ["SLURM_CONF": dir + "/slurm.conf"]
        try launch("munged", ["-F", "--force", "--socket=\(socket)", "--key-file=\(key)", "--log-file=\(dir)/munge/munged.log",
                              "--pid-file=\(dir)/munge/munged.pid", "--seed-file=\(dir)/munge/munged.seed"])
        // munged creates its socket within a second or so; the daemons that follow need it.
        for _ in 0..<50 where !fm.fileExists(atPath: socket) { usleep(100_000) }
        try launch("slurmctld", ["-D", "-f", dir + "/slurm.conf"])
        try launch("slurmd", ["-D", "-f", dir + "/slurm.conf", "-N", host])
    }

    /// Starts a Slurm or munge daemon in the foreground.
    private func launch(_ name: String, _ arguments: [String]) throws {
        try daemons.launch(name, name, arguments, environment: environment)
    }

    /// Waits for the node to be idle; nil when it is, else what went wrong (with the daemons' logs).
    private func waitUntilIdle(seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let dead = daemons.started.first(where: { !daemons.isRunning($0.pid) }) { return "\(dead.name) stopped at once\n\(logs())" }
            if let r = try? run("sinfo", ["-h", "-o", "%t"]), r.status == 0, r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "idle" {
                return nil
            }
            usleep(500_000)
        }
        return "the node did not become idle within \(Int(seconds)) s\n\(logs())"
    }

    /// The last lines of every daemon's log, for a failure message.
    func logs() -> String { daemons.logs(["munge/munged.log", "slurmctld.log", "slurmd.log"]) }

    /// Runs a Slurm command (or any program) against this cluster.
    func run(_ tool: String, _ arguments: [String]) throws -> ProcessOutput {
        try ProcessOutput.run(URL(fileURLWithPath: Daemons.which(tool) ?? tool), arguments, environment: environment)
    }

    /// Waits until none of `jobs` is pending or running; returns each job's (and array task's)
    /// final state by id, or nil after `seconds`.
    func wait(for jobs: [String], seconds: Double) throws -> [String: String]? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let queued = try run("squeue", ["-h", "-o", "%i", "-j", jobs.joined(separator: ",")])
            if queued.status == 0 && queued.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                var states: [String: String] = [:]
                for job in jobs {
                    for line in try run("scontrol", ["-o", "show", "job", job]).stdout.split(separator: "\n") {
                        let fields = Dictionary(line.split(separator: " ").compactMap { f -> (String, String)? in
                            let kv = f.split(separator: "=", maxSplits: 1)
                            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
                        }, uniquingKeysWith: { a, _ in a })
                        let id = fields["ArrayTaskId"].map { "\(fields["ArrayJobId"] ?? job)_\($0)" } ?? (fields["JobId"] ?? job)
                        states[id] = fields["JobState"] ?? "unknown"
                    }
                }
                return states
            }
            usleep(2_000_000)
        }
        return nil
    }

    /// Stops the daemons this cluster started (by their process ids) and removes its directory.
    func stop() {
        daemons.stopAll()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func shortHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let name = String(cString: buffer)
        return String(name.prefix { $0 != "." })
    }
}
