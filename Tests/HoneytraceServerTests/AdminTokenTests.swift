import Foundation
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import XCTest

/// The admin port's token: read from an owner-only file, asked for on `/metrics` and `/v1/clients`
/// but not `/health`; an admin port on a public address needs one, or an explicit opt-out.
final class AdminTokenTests: XCTestCase {
    func testTokenFileAndPublicAdminPortAreChecked() throws {
        let dir = try scratchDirectory(self)
        let token = try AdminToken.load(try writeAdminToken(dir))
        XCTAssertTrue(token.accepts(adminToken))
        XCTAssertFalse(token.accepts(adminToken + "x"))
        XCTAssertFalse(token.accepts(""))
        let readable = try writeAdminToken(dir, mode: 0o644)
        assertThrows(try AdminToken.load(readable), mentioning: [readable, "0644", "chmod 600"])
        assertThrows(try AdminToken.load(dir + "/absent.token"), mentioning: ["absent.token"])
        let short = dir + "/short.token"
        try "abc".write(toFile: short, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: short)
        assertThrows(try AdminToken.load(short), mentioning: [short, "16–256"])

        var configuration = testConfiguration(dir, adminPort: 0)
        configuration.adminHost = "0.0.0.0"
        assertThrows(try configuration.validate(), mentioning: ["0.0.0.0", "--admin-token-file", "--allow-unauthenticated-admin"])
        configuration.allowUnauthenticatedAdmin = true
        XCTAssertNoThrow(try configuration.validate())
        configuration.allowUnauthenticatedAdmin = false
        configuration.adminTokenFile = dir + "/admin-384.token"
        XCTAssertNoThrow(try configuration.validate())
        configuration.adminHost = "::1"
        configuration.adminTokenFile = nil
        XCTAssertNoThrow(try configuration.validate())
        var unreadable = testConfiguration(dir)
        unreadable.adminTokenFile = readable
        assertThrows(try PredictionServer(model: try fx.defended(), configuration: unreadable, clients: nil), mentioning: [readable, "0644"])
    }

    func testAdminRoutesAskForTheToken() async throws {
        let dir = try scratchDirectory(self)
        var configuration = testConfiguration(dir)
        configuration.adminTokenFile = try writeAdminToken(dir)
        let server = try PredictionServer(model: try fx.defended(), configuration: configuration, clients: try testClients())
        try await Application(router: server.makeAdminRouter()).test(.router) { client in
            for path in ["/metrics", "/v1/clients"] {
                try await client.execute(uri: path, method: .get) {
                    XCTAssertEqual($0.status, .unauthorized)
                    XCTAssertEqual(try errorBody($0).error.code, "missing_admin_token")
                }
                try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(aliceKey)"]) {
                    XCTAssertEqual(try errorBody($0).error.code, "wrong_admin_token")
                }
                try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(adminToken)"]) {
                    XCTAssertEqual($0.status, .ok)
                }
            }
            for path in ["/health", "/openapi.json"] {
                try await client.execute(uri: path, method: .get) { XCTAssertEqual($0.status, .ok) }
            }
        }
    }
}
