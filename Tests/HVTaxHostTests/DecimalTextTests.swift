import HVTaxModel
import Testing

/// The one decimal formatter behind findings and renderers: cases worked out by hand, including the
/// ones the thermal finding's own formatter got wrong before it used this one (-0.5 °C printed as 0.5).
@Suite("decimal text")
struct DecimalTextTests {
    @Test(
        "fixed decimals",
        arguments: [
            (12.345, 1, "12.3"), (12.36, 1, "12.4"), (0.05, 2, "0.05"), (1.005, 0, "1"), (99.96, 1, "100.0"),
            (-0.5, 1, "-0.5"), (-0.04, 1, "0.0"), (-12.3456, 2, "-12.35"), (7, 3, "7.000"), (0.000_4, 3, "0.000"),
            (18_446_744.073_7, 2, "18446744.07"), (Double.nan, 1, "n/a"), (Double.infinity, 0, "n/a"),
            (1e308, 2, "1e+308"), (-1e300, 0, "-1e+300"), (1.8e19, 1, "1.8e+19"), (1.8e18, 1, "1800000000000000000.0"),
        ])
    func fixed(_ value: Double, _ digits: Int, _ text: String) {
        #expect(DecimalText.fixed(value, digits) == text)
    }
}
