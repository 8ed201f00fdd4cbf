/// A problem with a diffusion model's settings, files or queries, said in words.
public struct DiffusionError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
