import CDNNL
import COpenBLAS
import Foundation

/// The processor and kernel libraries this process computes with. A seed gives bitwise the same
/// numbers on one machine at one thread count; another CPU model can make OpenBLAS and oneDNN pick
/// other kernels (other rounding), and trained models then differ, so run records name both.
public enum ComputeEnvironment {
    /// The processor's model name from /proc/cpuinfo, or "unknown CPU".
    public static let cpuModel: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return "unknown CPU"
    }()

    /// The kernel family OpenBLAS chose for this CPU (e.g. "Zen", "Haswell").
    public static var blasCore: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// oneDNN's instruction set on this CPU, or "off" when the engine runs without oneDNN.
    public static var oneDNNInstructionSet: String {
        guard OneDNN.shared != nil else { return "off" }
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: return "sse41"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case let other: return "isa 0x\(String(other.rawValue, radix: 16))"
        }
    }

    /// One line for records: "AMD EPYC; OpenBLAS Zen; oneDNN avx2".
    public static var summary: String { "\(cpuModel); OpenBLAS \(blasCore); oneDNN \(oneDNNInstructionSet)" }
}
