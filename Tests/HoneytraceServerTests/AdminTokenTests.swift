import AsyncHTTPClient
import Foundation
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import XCTest

/// The admin port's token: read from an owner-only file, asked for on `/metrics` and `/v1/clients`
/// but not `/health`; an admin port on a public address needs one, or an explicit opt-out; wrong
/// tokens lock the source address out.
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

    /// Wrong or missing admin tokens lock the source address out of the admin port, on the real
    /// server: 429 `locked_out` with `Retry-After` even for the right token, whatever
    /// X-Forwarded-For says; `/health` stays open, the API port keeps its own count, and the
    /// lockout ends when its time is up.
    func testWrongAdminTokensLockTheAddressOut() async throws {
        let dir = try scratchDirectory(self)
        var configuration = testConfiguration(dir, adminPort: 0)
        configuration.adminTokenFile = try writeAdminToken(dir)
        configuration.lockoutFailures = 3
        configuration.lockoutDuration = .milliseconds(1500)
        configuration.trustForwardedFor = true
        let server = try PredictionServer(model: try fx.defended(), configuration: configuration, clients: try testClients())
        try await withRunningServer(server) { addresses, http in
            let admin = try XCTUnwrap(addresses.adminURL)
            func get(_ url: String, token: String?, forwardedFor: String? = nil) async throws -> (HTTPResponse.Status, String?, [String: Any]) {
                var request = HTTPClientRequest(url: url)
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                if let forwardedFor { request.headers.add(name: "X-Forwarded-For", value: forwardedFor) }
                let response = try await http.execute(request, timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 20)
                let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
                return (HTTPResponse.Status(code: Int(response.status.code)), response.headers.first(name: "Retry-After"), json)
            }
            func code(_ json: [String: Any]) -> String? { (json["error"] as? [String: Any])?["code"] as? String }
            // Two failures, then the right token: below the threshold nothing is locked.
            for forwarded in ["203.0.113.1", "203.0.113.2"] {
                let (status, _, json) = try await get(admin + "/v1/clients", token: "not-the-admin-token-0000", forwardedFor: forwarded)
                XCTAssertEqual(status, .unauthorized)
                XCTAssertEqual(code(json), "wrong_admin_token")
            }
            let below = try await get(admin + "/metrics", token: adminToken)
            XCTAssertEqual(below.0, .ok)
            // The third failure in the window (a missing token counts) locks the address out.
            let (missing, _, missingJSON) = try await get(admin + "/metrics", token: nil, forwardedFor: "203.0.113.3")
            XCTAssertEqual(missing, .unauthorized)
            XCTAssertEqual(code(missingJSON), "missing_admin_token")
            for path in ["/metrics", "/v1/clients"] {
                let (status, retryAfter, json) = try await get(admin + path, token: adminToken, forwardedFor: "198.51.100.9")
                XCTAssertEqual(status, .tooManyRequests, path)
                XCTAssertEqual(code(json), "locked_out", path)
                XCTAssertEqual((json["error"] as? [String: Any])?["status"] as? Int, 429)
                XCTAssertTrue(((json["error"] as? [String: Any])?["message"] as? String)?.contains("127.0.0.1") == true, "\(json)")
                XCTAssertTrue(["1", "2"].contains(retryAfter ?? ""), "Retry-After \(retryAfter ?? "none")")
            }
            // Probes ask for no token and are not locked out; the API port counts on its own.
            let health = try await get(admin + "/health", token: nil)
            XCTAssertEqual(health.0, .ok)
            var predict = HTTPClientRequest(url: addresses.baseURL + "/v1/predict")
            predict.method = .POST
            predict.headers.add(name: "Authorization", value: "Bearer \(aliceKey)")
            predict.headers.add(name: "Content-Type", value: "application/json")
            predict.body = .bytes(jsonBody(fx.images(1), size: imageSize))
            let predicted = try await http.execute(predict, timeout: .seconds(10))
            XCTAssertEqual(predicted.status, .ok)
            // Once the lockout is over, the token is taken again.
            try await Task.sleep(for: .milliseconds(1700))
            let after = try await get(admin + "/metrics", token: adminToken)
            XCTAssertEqual(after.0, .ok)
        }
    }
}
