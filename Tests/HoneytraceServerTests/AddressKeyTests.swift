@testable import HoneytraceServer
import XCTest

/// What a source address counts as for the per-address limits: IPv4 itself, IPv6 its /64, an
/// IPv4-mapped IPv6 address the IPv4 address, anything else itself.
final class AddressKeyTests: XCTestCase {
    func testKeys() {
        XCTAssertEqual(AddressKey.of("203.0.113.7"), "203.0.113.7")
        XCTAssertEqual(AddressKey.of("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64")
        XCTAssertEqual(AddressKey.of("2001:0DB8:0001:0002::1"), "2001:db8:1:2::/64", "any spelling of the same /64")
        XCTAssertEqual(AddressKey.of("2001:db8:1:3::1"), "2001:db8:1:3::/64")
        XCTAssertEqual(AddressKey.of("::1"), "::/64")
        XCTAssertEqual(AddressKey.of("fe80::1:2:3:4"), "fe80::/64")
        XCTAssertEqual(AddressKey.of("::ffff:203.0.113.7"), "203.0.113.7", "IPv4-mapped")
        XCTAssertEqual(AddressKey.of("::FFFF:cb00:7107"), "203.0.113.7", "IPv4-mapped, written in hex")
        // Not mapped: IPv4-compatible (::a.b.c.d) and other prefixes are IPv6 addresses like any other.
        XCTAssertEqual(AddressKey.of("::203.0.113.7"), "::/64")
        XCTAssertEqual(AddressKey.of("64:ff9b::203.0.113.7"), "64:ff9b::/64")
        // Not an address: the value itself.
        for value in ["not-an-address", "203.0.113.7:8080", "[2001:db8::1]", "2001:db8::1%eth0", "2001:db8::1/64",
                      "203.0.113", "256.1.1.1", " 203.0.113.7", "unknown", ""] {
            XCTAssertEqual(AddressKey.of(value), value)
        }
    }
}
