import HVTaxModel

/// How one figure is made from a processor's counters: `add` (scaled), minus `subtract` when the
/// capture has it. Counter names are lower-cased, as Windows matches them.
struct FigureRecipe {
    var figure: CaptureFigure
    var add: String
    var subtract: String? = nil
    /// 0.01 for the percent counters (the model holds ratios 0-1), 1 for rates and nanoseconds.
    var unitScale: Double

    init(_ figure: CaptureFigure, _ add: String, minus subtract: String? = nil) {
        self.figure = figure
        self.add = add
        self.subtract = subtract
        unitScale = figure.unit == .ratio ? 0.01 : 1
    }

    /// Parts of a term for one entity, its values divided by `divisor` (esxtop groups: their vCPUs).
    func parts(_ columns: [String: Int], divisor: Double = 1) -> [(column: Int, coefficient: Double)]? {
        guard let added = columns[add] else { return nil }
        var parts = [(column: added, coefficient: unitScale / divisor)]
        if let subtract, let subtracted = columns[subtract] {
            parts.append((column: subtracted, coefficient: -unitScale / divisor))
        }
        return parts
    }
}

/// A processor's (or a group's own) counter columns as the header named them.
struct EntityColumns {
    var instance: String
    var index: Int?
    /// Lower-cased counter name -> column.
    var columns: [String: Int] = [:]
}

/// A VM or processor set: its own group columns (esxtop Group Cpu, Hyper-V LP `_Total`) if any,
/// and its processors.
struct GroupColumns {
    var name: String
    var groupID: String?
    var own: [String: Int]?
    /// Divides the group's own columns: the vCPU count for an esxtop group (its percentages are sums
    /// over its worlds); 1 for a `_Total` that is already a mean.
    var ownDivisor: Double = 1
    var cpus: [EntityColumns]
    var isLogicalProcessors = false
}

/// Lays the series out for hosts, groups and processors from their columns and a kind's recipes,
/// and notes which figures got a source.
struct LayoutBuilder {
    var recipes: [FigureRecipe]
    var layout: CaptureLayout
    /// Figure -> the object\counter names it came from, for the availability table.
    private(set) var sources: [CaptureFigure: [String]] = [:]
    /// Column -> "Object\Counter" as written, to name sources.
    var columnNames: [Int: String] = [:]
    /// Availability is about the VMs and their vCPUs: a figure only logical processors have
    /// (Hyper-V's % Idle Time) is not available for a VM, and the table says so.
    var recordsSources = true

    init(kind: CaptureKind, recipes: [FigureRecipe]) {
        self.recipes = recipes
        layout = CaptureLayout(kind: kind)
    }

    private mutating func noteSource(_ figure: CaptureFigure, _ parts: [(column: Int, coefficient: Double)]) {
        guard recordsSources else { return }
        let names = parts.enumerated().map { offset, part in
            (offset == 0 ? "" : "- ") + (columnNames[part.column] ?? "column \(part.column + 2)")
        }
        let text = names.joined(separator: " ")
        if !(sources[figure]?.contains(text) ?? false) { sources[figure, default: []].append(text) }
    }

    mutating func cpu(_ entity: EntityColumns) -> CPULayout {
        var cpu = CPULayout(instance: entity.instance, index: entity.index)
        for recipe in recipes {
            guard let parts = recipe.parts(entity.columns) else { continue }
            noteSource(recipe.figure, parts)
            cpu.series[recipe.figure] = layout.plan.add([SeriesTerm(weight: 1, parts: parts)])
        }
        return cpu
    }

    /// The terms that make a group's per-processor figure: its own columns as one term weighted by
    /// its processor count (so a host mean over groups weights each vCPU alike), else one term per
    /// processor.
    private mutating func terms(_ recipe: FigureRecipe, _ group: GroupColumns) -> [SeriesTerm] {
        if let own = group.own, let parts = recipe.parts(own, divisor: group.ownDivisor) {
            noteSource(recipe.figure, parts)
            return [SeriesTerm(weight: Double(max(group.cpus.count, 1)), parts: parts)]
        }
        return group.cpus.compactMap { cpu in recipe.parts(cpu.columns).map { SeriesTerm(weight: 1, parts: $0) } }
    }

    mutating func group(_ group: GroupColumns) -> GroupLayout {
        var layout = GroupLayout(name: group.name, groupID: group.groupID,
                                 cpuCount: group.cpus.isEmpty ? nil : group.cpus.count,
                                 isLogicalProcessors: group.isLogicalProcessors)
        layout.cpus = group.cpus.map { cpu($0) }
        for recipe in recipes {
            if let series = self.layout.plan.add(terms(recipe, group)) { layout.series[recipe.figure] = series }
        }
        return layout
    }

    /// A host's per-vCPU means over all its VMs.
    mutating func hostSeries(_ vms: [GroupColumns]) -> [CaptureFigure: Int] {
        var series: [CaptureFigure: Int] = [:]
        for recipe in recipes {
            let terms = vms.flatMap { self.terms(recipe, $0) }
            if let index = layout.plan.add(terms) { series[recipe.figure] = index }
        }
        return series
    }

    /// Every figure, available with its sources, or not with the kind's reason.
    func availability(reason: (CaptureFigure) -> String) -> [FigureAvailability] {
        CaptureFigure.allCases.map { figure in
            if let sources = sources[figure] {
                return FigureAvailability(figure: figure, available: true, source: sources.joined(separator: "; "), reason: nil)
            }
            return FigureAvailability(figure: figure, available: false, source: nil, reason: reason(figure))
        }
    }
}

/// Sorts instance names by their trailing number (`Hv VP 2` before `Hv VP 10`), then by name.
func trailingNumber(_ text: String) -> Int? {
    let digits = text.reversed().prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty else { return nil }
    return Int(String(digits.reversed()))
}
