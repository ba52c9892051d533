//! The goals an issue sets a bench, as measured, and the summary table that closes its run
//! (the `secure` and `classic` benches).

/// One of the issue's goals, as measured.
pub struct Goal {
    /// What is compared.
    pub what: String,
    /// The figure, as printed.
    pub figure: String,
    /// The goal, as printed.
    pub target: &'static str,
    /// Whether the figure meets it.
    pub met: bool,
}

/// Prints the goals of `issue` and whether each is met (not judged in a smoke run).
pub fn summary(issue: &str, goals: &[Goal], smoke: bool) {
    if goals.is_empty() {
        return;
    }
    let width = goals
        .iter()
        .map(|g| g.what.chars().count())
        .max()
        .unwrap_or(0)
        .max(20);
    println!();
    println!(
        "{:<width$} {:>14} {:>10}  result",
        format!("goal ({issue})"),
        "measured",
        "target"
    );
    for Goal {
        what,
        figure,
        target,
        met,
    } in goals
    {
        let result = match (smoke, *met) {
            (true, _) => "not judged",
            (false, true) => "met",
            (false, false) => "MISSED",
        };
        println!("{what:<width$} {figure:>14} {target:>10}  {result}");
    }
}
