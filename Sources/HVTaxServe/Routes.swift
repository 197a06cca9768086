import Foundation
import HVTaxMetrics
import HVTaxModel
import Hummingbird
import NIOCore

/// The endpoints: `/metrics` (Prometheus text or OpenMetrics by Accept), `/api/v1/...` JSON of
/// the current view, `/` a status page. All answer from the last published view.
enum Routes {
    static func router(store: ViewStore, history: HistoryStore?, configuration: ServeConfiguration) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ReadOnlyMiddleware())
        if !configuration.web.basicAuthUsers.isEmpty { router.add(middleware: BasicAuthMiddleware(users: configuration.web.basicAuthUsers)) }

        // Every endpoint answers GET and HEAD (ReadOnlyMiddleware turns HEAD into GET without the body).
        func get(_ path: RouterPath, _ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response) {
            router.get(path, use: handler)
            router.head(path, use: handler)
        }
        get("/metrics") { request, _ -> Response in
            guard let view = store.latest else { return notYet }
            let format = ExpositionFormat.negotiate(accept: request.headers[.accept])
            let (body, compressed) = view.exposition(format, gzip: Gzip.accepted(request.headers[.acceptEncoding]))
            var headers: HTTPFields = [.contentType: format.contentType, .vary: "Accept, Accept-Encoding"]
            if compressed { headers[.contentEncoding] = "gzip" }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
        get("/api/v1/snapshot") { _, _ -> Response in
            guard let view = store.latest else { return notYet }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: view.snapshotJSON))
        }
        get("/api/v1/vms") { _, _ -> Response in
            guard let view = store.latest else { return notYet }
            return try json(view.snapshot.vms)
        }
        get("/api/v1/vms/{name}") { _, context -> Response in
            guard let view = store.latest else { return notYet }
            let name = context.parameters.get("name") ?? ""
            guard let vm = view.snapshot.vms.first(where: { $0.name == name || String($0.pid) == name }) else {
                return text(.notFound, "no VM named \(name) in the current view\n")
            }
            return try json(vm)
        }
        get("/api/v1/thresholds") { _, _ -> Response in
            guard let view = store.latest else { return notYet }
            return try json(ThresholdsView(levels: view.levels, events: store.events))
        }
        get("/api/v1/collectors") { _, _ -> Response in
            guard let view = store.latest else { return notYet }
            return try json(view.collectors.map { CollectorView(name: $0.name, up: $0.up, needsRoot: $0.needsRoot, detail: $0.detail) })
        }
        get("/api/v1/history") { request, _ -> Response in
            guard let history else { return text(.notFound, "history is off: set history.path in the config file\n") }
            let parameters = request.uri.queryParameters
            let query: HistoryQuery
            do {
                query = try HistoryQuery(vm: parameters.get("vm").map { String($0) }, since: parameters.get("since").map { String($0) },
                                         format: parameters.get("format").map { String($0) } ?? "json")
            } catch {
                return text(.badRequest, "\(error)\n")
            }
            return Response(status: .ok, headers: [.contentType: query.contentType],
                            body: .init(byteBuffer: ByteBuffer(string: try query.render(query.rows(from: history)))))
        }
        get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: StatusPage.html(store.latest, events: store.events,
                                                                             historyRows: try? history?.counts(),
                                                                             configuration: configuration))))
        }
        return router
    }

    struct ThresholdsView: Codable {
        var levels: [PublishedView.LevelState]
        var events: [ThresholdEvent]
    }

    struct CollectorView: Codable {
        var name: String
        var up: Bool
        var needsRoot: Bool
        var detail: String
    }

    static var notYet: Response {
        var response = text(.serviceUnavailable, "no interval sampled yet: the first ends one interval after start\n")
        response.headers[.retryAfter] = "1"
        return response
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json<T: Encodable>(_ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
