/// The bare victim a trained baseline is compared with: its name and its accuracy on the test
/// set and, when measured, on the owner validation split.
public struct BaselineVictim: Sendable, Equatable {
    public var name: String
    public var testAccuracy: Double
    public var validationAccuracy: Double?

    public init(name: String, testAccuracy: Double, validationAccuracy: Double? = nil) {
        self.name = name
        self.testAccuracy = testAccuracy
        self.validationAccuracy = validationAccuracy
    }
}
