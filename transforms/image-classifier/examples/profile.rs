//! Where tract spends its time on a model, per operator kind, batch 1:
//! `profile MODEL [SIZE] [RUNS]` runs a zero image through the optimised plan RUNS times (default
//! 50) and prints the total time per op name, largest first (for tuning; not a test).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::bail;
use tract_onnx::tract_core::plan::{EvalContext, eval};

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(model_path) = args.get(1) else {
        bail!("usage: profile MODEL [SIZE] [RUNS]");
    };
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(224);
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(50);
    let plan = tract_onnx::onnx()
        .model_for_path(model_path)?
        .with_input_fact(0, f32::fact([1, 3, size, size]).into())?
        .into_optimized()?
        .into_runnable()?;
    let mut state = plan.spawn()?;
    let mut per_op: HashMap<String, (Duration, usize)> = HashMap::new();
    let input = Tensor::zero::<f32>(&[1, 3, size, size])?;
    let started = Instant::now();
    for _ in 0..runs {
        state.run_plan_with_eval(
            tvec!(input.clone().into()),
            |ctx: &EvalContext, st, node, inputs| {
                let t = Instant::now();
                let out = eval(ctx, st, node, inputs);
                let entry = per_op.entry(node.op().name().to_string()).or_default();
                entry.0 += t.elapsed();
                entry.1 += 1;
                out
            },
        )?;
    }
    let total = started.elapsed();
    let mut rows: Vec<_> = per_op.into_iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1.0));
    println!(
        "ms per run: {:.2}",
        total.as_secs_f64() * 1000.0 / runs as f64
    );
    for (name, (time, count)) in rows {
        println!(
            "{:>8.2} ms  {:>4} nodes  {name}",
            time.as_secs_f64() * 1000.0 / runs as f64,
            count / runs
        );
    }
    Ok(())
}
