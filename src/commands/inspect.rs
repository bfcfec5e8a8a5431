pub fn run(_a: InspectArgs) -> anyhow::Result<()> { Ok(()) }
#[derive(clap::Args)] pub struct InspectArgs {}
