import ArgumentParser
import Foundation
import Honeytrace
import HoneytraceServer

/// `honeytrace ledger`: the tamper-evident evidence ledger a server keeps of every answered query —
/// verify its chain, export and sign one client's entries, check such a bundle.
struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "The evidence ledger (a hash chain of every answered query in a server's query database): verify, export, sign, check.",
        discussion: "See docs/server.md, \"Evidence ledger\", for the schema, the canonical encoding and what the chain proves.",
        subcommands: [LedgerVerifyCommand.self, LedgerExportCommand.self, LedgerKeygenCommand.self, LedgerCheckBundleCommand.self])

    /// The exit status of a chain or bundle that does not check (1 stays "could not run").
    static let broken = ExitCode(2)
}

struct LedgerVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Walk the ledger's hash chain; name the first edited, deleted or reordered entry.",
        discussion: "Exit status: 0 intact, 2 a bad entry (or --head not on the chain), 1 the ledger could not be read.")

    @Argument(help: "The server's query database (default name: MODEL/honeytrace-queries.sqlite), or its postgres:// URL.") var ledger: String
    @Option(help: "A head hash published earlier: the chain must still contain it (shows entries removed from the end).")
    var head: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let report = try EvidenceChain.verify(ledger: ledger, publishedHead: head)
        if json {
            try printJSON(report)
        } else if let bad = report.firstBad {
            FileHandle.standardError.write(Data("ledger \(ledger): entry \(bad.id) (client \(bad.client)) does not check: \(bad.problem) (\(report.entries) entries before it check)\n".utf8))
        } else if report.publishedHeadFound == false {
            FileHandle.standardError.write(Data("ledger \(ledger): the published head \(head ?? "") is not on the chain of \(report.entries) entries: entries were removed from its end, or the chain was rebuilt\n".utf8))
        } else {
            print("ledger \(ledger) intact: \(report.entries) entries of \(report.clients) clients, head #\(report.headID.map(String.init) ?? "-") \(report.headHash ?? "(empty)")")
        }
        if !report.intact { throw LedgerCommand.broken }
    }
}

struct LedgerExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write one client's entries, the chain links that bind them to the head hash, signed with Ed25519.")

    @Option(help: "The API client (its name in the clients file; 'anonymous' without one).") var client: String
    @Option(help: "The server's query database, or its postgres:// URL.") var ledger: String
    @Option(help: "Signing key file (`honeytrace ledger keygen`).") var signingKey: String
    @Option(help: "Bundle file to write (JSON).") var out: String

    func run() throws {
        let key = try LedgerSigningKey.load(signingKey)
        let bundle = try EvidenceBundle.export(ledger: ledger, client: client, signingKey: key)
        try bundle.write(to: out)
        print("wrote \(out): \(bundle.entries.count) entries of client '\(client)', \(bundle.links.count) links, head #\(bundle.head.id) \(bundle.head.hash)")
    }
}

struct LedgerKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make an Ed25519 signing key for evidence bundles (FILE, owner-only) and its public key (FILE.pub).")

    @Option(help: "Signing key file to write; the public key goes to FILE.pub.") var out: String
    @Flag(help: "Replace an existing key file (the old key can then no longer sign).") var force = false

    func run() throws {
        let key = LedgerSigningKey.generate()
        try key.save(to: out, overwrite: force)
        print("wrote \(out) (keep it secret) and \(out).pub (public key \(key.publicKeyHex))")
    }
}

struct LedgerCheckBundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-bundle",
        abstract: "Check an evidence bundle's signature against a public key, and its internal hash chain.",
        discussion: "Exit status: 0 valid, 2 signature or chain does not check, 1 the bundle or key could not be read.")

    @Argument(help: "Bundle file (`honeytrace ledger export`).") var bundle: String
    @Option(help: "The signer's public key file (FILE.pub from `ledger keygen`).") var publicKey: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let key = try LedgerSigningKey.loadPublicKey(publicKey)
        let check = try EvidenceBundle.load(bundle).check(trustedKey: key, path: bundle)
        if json {
            try printJSON(check)
        } else if check.valid {
            print("bundle \(bundle) valid: \(check.entries) entries of client '\(check.client)', head #\(check.headID) \(check.headHash), signed by \(check.publicKey)")
        } else {
            FileHandle.standardError.write(Data("bundle \(bundle) does not check: \(check.problem ?? "")\n".utf8))
        }
        if !check.valid { throw LedgerCommand.broken }
    }
}
